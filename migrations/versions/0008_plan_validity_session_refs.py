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


# For each lot an older cancellation skipped (the session has a cancellation entry, but its
# consumption on this lot got no reversal: before 0008 that meant the lot had expired or its
# dispute was lost, and nothing said so), the record today's cancellations write (see
# storefront/ledger/consumption.py), dated when the session was cancelled.
RECORD_UNRETURNED = """
INSERT INTO ledger_entries (student_id, lot_id, kind, minutes, reference, session_ref,
                            idempotency_key, note, created_at)
SELECT l.student_id, l.id, 'cancellation_unreturned', 0, c.session_ref, c.session_ref,
       'cancellation_unreturned:cancel:' || CAST(c.student_id AS VARCHAR) || ':'
           || c.session_ref || ':lot:' || CAST(l.id AS VARCHAR),
       CAST(-c.minutes AS VARCHAR) || ' minutes not returned: ' || CASE
           WHEN l.expires_at IS NOT NULL AND l.expires_at <= x.cancelled_at
               THEN 'the package had expired'
           WHEN p.dispute_status = 'lost' OR EXISTS (
                   SELECT 1 FROM ledger_entries d
                   WHERE d.lot_id = l.id AND d.kind = 'dispute_loss')
               THEN 'the payment''s dispute was lost'
           ELSE 'the package had expired' END,  -- and has been extended since
       x.cancelled_at
FROM ledger_entries c
JOIN lots l ON l.id = c.lot_id
JOIN purchases p ON p.id = l.purchase_id
JOIN (SELECT student_id, session_ref, MIN(created_at) AS cancelled_at
      FROM ledger_entries
      WHERE session_ref IS NOT NULL
        AND kind IN ('consumption_reversal', 'refund_reversal', 'dispute_hold')
      GROUP BY student_id, session_ref) x
  ON x.student_id = c.student_id AND x.session_ref = c.session_ref
WHERE c.kind = 'consumption' AND NOT EXISTS (
    SELECT 1 FROM ledger_entries r
    WHERE r.kind = 'consumption_reversal' AND r.student_id = c.student_id
      AND r.session_ref = c.session_ref AND r.lot_id = c.lot_id)
ORDER BY c.id
"""


OTHER_CANCELLATION_ENTRIES = (
    "SELECT 1 FROM ledger_entries o WHERE o.student_id = {entry}.student_id"
    " AND o.session_ref = {entry}.session_ref"
    " AND o.kind IN ('consumption_reversal', 'refund_reversal', 'dispute_hold')")


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
    op.execute(RECORD_UNRETURNED)
    _append_only(enabled=True)


def downgrade():
    # A cancellation_unreturned record beside the session's other cancellation entries is
    # written again by upgrade from what stays (RECORD_UNRETURNED), so it goes. Any other
    # one (a cancellation that returned nothing at all) is the only trace of that
    # cancellation: the ledger is append-only, so the downgrade is refused, before any change.
    only_trace = op.get_bind().execute(sa.text(
        "SELECT count(*) FROM ledger_entries u WHERE u.kind = 'cancellation_unreturned'"
        f" AND NOT EXISTS ({OTHER_CANCELLATION_ENTRIES.format(entry='u')})")).scalar_one()
    if only_trace:
        raise RuntimeError(f"{only_trace} cancellation_unreturned entries are the only record "
                           "of their session's cancellation; the ledger keeps them")
    _append_only(enabled=False)
    op.execute("DELETE FROM ledger_entries WHERE kind = 'cancellation_unreturned' AND EXISTS ("
               f"{OTHER_CANCELLATION_ENTRIES.format(entry='ledger_entries')})")
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
