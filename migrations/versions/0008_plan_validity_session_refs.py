"""plan validity bounded; ledger entries name their tutoring session

A package is valid for 1 to 3650 days (longer plans are shortened to 3650 days first).
Ledger entries gain `session_ref`, set on a session's consumption and on what its
cancellation writes, so that sessions are found by exact match (indexed with student_id),
and the zero-minute record kind `cancellation_unreturned`. Existing entries are filled in
from their reference or, for a cancellation's refund and hold entries, from their key.

Revision ID: 0008_plan_validity_session_refs
Revises: 0007_mail_outbox
"""
import re

import sqlalchemy as sa
from alembic import op

revision = "0008_plan_validity_session_refs"
down_revision = "0007_mail_outbox"
branch_labels = None
depends_on = None

MAX_VALIDITY_DAYS = 3650
OLD_VALIDITY = ("(plan_type = 'package' AND validity_days IS NOT NULL AND validity_days >= 1)"
                " OR (plan_type = 'subscription' AND validity_days IS NULL)")
NEW_VALIDITY = ("(plan_type = 'package' AND validity_days IS NOT NULL AND validity_days >= 1"
                f" AND validity_days <= {MAX_VALIDITY_DAYS})"
                " OR (plan_type = 'subscription' AND validity_days IS NULL)")
OLD_KINDS = ("'purchase_credit', 'consumption', 'consumption_reversal', 'expiry', "
             "'refund_reversal', 'adjustment', 'dispute_hold', 'dispute_release', "
             "'expiry_extension', 'dispute_loss'")
NEW_KINDS = OLD_KINDS + ", 'cancellation_unreturned'"
OLD_RECORDS = "'expiry_extension', 'dispute_loss'"
NEW_RECORDS = OLD_RECORDS + ", 'cancellation_unreturned'"
# refund_reversal:<purchase>:cancel:<student>:<session>:lot:<lot>, dispute_hold:<dispute>:…
CANCEL_KEY = re.compile(r"^(?:refund_reversal:\d+|dispute_hold:[^:]+):cancel:\d+:(.*):lot:\d+$")


def _append_only(enabled: bool) -> None:
    """Lift the append-only guard while the migration rewrites the table (SQLite's batch mode
    rebuilds it, dropping its triggers), then restore it."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE ledger_entries {'ENABLE' if enabled else 'DISABLE'} "
                   "TRIGGER ledger_entries_append_only")
        return
    for name, action in (("ledger_entries_no_update", "UPDATE"),
                         ("ledger_entries_no_delete", "DELETE")):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
        if enabled:
            op.execute(f"CREATE TRIGGER {name} BEFORE {action} ON ledger_entries "
                       "BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END")


def _fill_session_refs() -> None:
    bind = op.get_bind()
    bind.execute(sa.text("UPDATE ledger_entries SET session_ref = reference "
                         "WHERE kind IN ('consumption', 'consumption_reversal')"))
    rows = bind.execute(sa.text(
        "SELECT id, idempotency_key FROM ledger_entries "
        "WHERE kind IN ('refund_reversal', 'dispute_hold')")).all()
    for entry_id, key in rows:
        if (match := CANCEL_KEY.match(key)) is not None:
            bind.execute(sa.text("UPDATE ledger_entries SET session_ref = :ref WHERE id = :id"),
                         {"ref": match.group(1), "id": entry_id})


def upgrade():
    op.execute(f"UPDATE pricing_plans SET validity_days = {MAX_VALIDITY_DAYS} "
               f"WHERE validity_days > {MAX_VALIDITY_DAYS}")
    with op.batch_alter_table("pricing_plans", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_pricing_plans_validity_by_type"), type_="check")
        batch_op.create_check_constraint("validity_by_type", NEW_VALIDITY)

    _append_only(enabled=False)
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_ref", sa.String(length=255), nullable=True))
        batch_op.create_index("ix_ledger_entries_student_session",
                              ["student_id", "session_ref"], unique=False)
        batch_op.drop_constraint(op.f("ck_ledger_entries_kind"), type_="check")
        batch_op.create_check_constraint("kind", f"kind IN ({NEW_KINDS})")
        batch_op.drop_constraint(op.f("ck_ledger_entries_minutes_nonzero"), type_="check")
        batch_op.create_check_constraint("minutes_nonzero",
                                         f"minutes <> 0 OR kind IN ({NEW_RECORDS})")
    _fill_session_refs()
    _append_only(enabled=True)


def downgrade():
    # Refused by the kind check while cancellation_unreturned entries exist: the ledger is
    # append-only, so they are never dropped silently.
    _append_only(enabled=False)
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_ledger_entries_minutes_nonzero"), type_="check")
        batch_op.create_check_constraint("minutes_nonzero",
                                         f"minutes <> 0 OR kind IN ({OLD_RECORDS})")
        batch_op.drop_constraint(op.f("ck_ledger_entries_kind"), type_="check")
        batch_op.create_check_constraint("kind", f"kind IN ({OLD_KINDS})")
        batch_op.drop_index("ix_ledger_entries_student_session")
        batch_op.drop_column("session_ref")
    _append_only(enabled=True)

    with op.batch_alter_table("pricing_plans", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_pricing_plans_validity_by_type"), type_="check")
        batch_op.create_check_constraint("validity_by_type", OLD_VALIDITY)
