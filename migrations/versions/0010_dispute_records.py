"""ledger records of disputes opened and won, whether or not they held minutes

Two zero-minute record kinds: `dispute_opened` and `dispute_won`. With `dispute_loss`
(now written for every lost dispute) they, not the minutes on hold, tell whether a
dispute is open on a lot and whether it was lost. Existing disputes get what the code
before this revision left out: a lost dispute that held nothing gets its `dispute_loss`
record, and a won one whose hold had been refunded away gets its `dispute_won` record.

Revision ID: 0010_dispute_records
Revises: 0009_purchase_starter
"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0010_dispute_records"
down_revision = "0009_purchase_starter"
branch_labels = None
depends_on = None

OLD_KINDS = ("'purchase_credit', 'consumption', 'consumption_reversal', 'expiry', "
             "'refund_reversal', 'adjustment', 'dispute_hold', 'dispute_release', "
             "'expiry_extension', 'dispute_loss', 'cancellation_unreturned'")
NEW_KINDS = OLD_KINDS + ", 'dispute_opened', 'dispute_won'"
OLD_RECORDS = "'expiry_extension', 'dispute_loss', 'cancellation_unreturned'"
NEW_RECORDS = OLD_RECORDS + ", 'dispute_opened', 'dispute_won'"

entries = sa.table(
    "ledger_entries", sa.column("student_id", sa.Integer), sa.column("lot_id", sa.Integer),
    sa.column("kind", sa.String), sa.column("minutes", sa.Integer),
    sa.column("reference", sa.String), sa.column("idempotency_key", sa.String),
    sa.column("note", sa.Text), sa.column("created_at", sa.DateTime(timezone=True)))


def _append_only(enabled: bool) -> None:
    """Lift the append-only guard while the table is rebuilt (SQLite's batch mode drops
    its triggers), then restore it."""
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


def _set_checks(kinds: str, records: str) -> None:
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_ledger_entries_kind"), type_="check")
        batch_op.create_check_constraint("kind", f"kind IN ({kinds})")
        batch_op.drop_constraint(op.f("ck_ledger_entries_minutes_nonzero"), type_="check")
        batch_op.create_check_constraint("minutes_nonzero", f"minutes <> 0 OR kind IN ({records})")


def _backfill() -> None:
    bind, now = op.get_bind(), datetime.now(UTC)
    rows = []
    # Lost with nothing held: no hold, so the dispute's id was never recorded.
    for student_id, lot_id, purchase_id in bind.execute(sa.text(
            "SELECT l.student_id, l.id, p.id FROM lots l JOIN purchases p ON p.id = l.purchase_id "
            "WHERE p.dispute_status = 'lost' AND NOT EXISTS (SELECT 1 FROM ledger_entries e "
            "WHERE e.lot_id = l.id AND e.kind = 'dispute_loss')")).all():
        rows.append({"student_id": student_id, "lot_id": lot_id, "kind": "dispute_loss",
                     "minutes": 0, "reference": f"purchase:{purchase_id}",
                     "idempotency_key": f"dispute_loss:purchase:{purchase_id}",
                     "note": "0 minutes voided (recorded later)", "created_at": now})
    # Won after a refund had taken all it held: nothing was released, nothing recorded.
    for student_id, lot_id, dispute_id in bind.execute(sa.text(
            "SELECT h.student_id, h.lot_id, h.reference FROM ledger_entries h "
            "JOIN lots l ON l.id = h.lot_id JOIN purchases p ON p.id = l.purchase_id "
            "WHERE h.kind = 'dispute_hold' AND h.idempotency_key = 'dispute_hold:' || h.reference "
            "AND p.dispute_status IN ('won', 'warning_closed') AND NOT EXISTS ("
            "SELECT 1 FROM ledger_entries c WHERE c.idempotency_key IN "
            "('dispute_release:' || h.reference, 'dispute_loss:' || h.reference))")).all():
        rows.append({"student_id": student_id, "lot_id": lot_id, "kind": "dispute_won",
                     "minutes": 0, "reference": dispute_id,
                     "idempotency_key": f"dispute_won:{dispute_id}",
                     "note": "0 minutes released (recorded later)", "created_at": now})
    if rows:
        op.bulk_insert(entries, rows)


def upgrade():
    _append_only(enabled=False)
    _set_checks(NEW_KINDS, NEW_RECORDS)
    _append_only(enabled=True)
    _backfill()


def downgrade():
    # Refused by the kind check while dispute_opened or dispute_won entries exist: the
    # ledger is append-only, so they are never dropped silently.
    _append_only(enabled=False)
    _set_checks(OLD_KINDS, OLD_RECORDS)
    _append_only(enabled=True)
