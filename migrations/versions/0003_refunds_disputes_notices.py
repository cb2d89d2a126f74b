"""refunds, disputes and expiry notices

Purchases gain refunded amounts, refund statuses and a dispute status; lots gain minutes on
hold; ledger entries gain the zero-minute record kinds (expiry_extension, dispute_loss);
expiry_notices remembers the "hours expire soon" emails sent.

Revision ID: 0003_refunds_disputes
Revises: 0002_session_token
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_refunds_disputes"
down_revision = "0002_session_token"
branch_labels = None
depends_on = None

OLD_STATUSES = "'pending', 'processing', 'completed', 'failed', 'cancelled'"
NEW_STATUSES = OLD_STATUSES + ", 'partially_refunded', 'refunded'"
OLD_KINDS = ("'purchase_credit', 'consumption', 'consumption_reversal', 'expiry', "
             "'refund_reversal', 'adjustment', 'dispute_hold', 'dispute_release'")
NEW_KINDS = OLD_KINDS + ", 'expiry_extension', 'dispute_loss'"
PAID = "'completed', 'partially_refunded', 'refunded'"


def _sqlite_append_only_triggers(create: bool) -> None:
    """Batch mode rebuilds ledger_entries on SQLite, which drops its triggers: restore them."""
    if op.get_bind().dialect.name != "sqlite":
        return
    for name, action in (("ledger_entries_no_update", "UPDATE"),
                         ("ledger_entries_no_delete", "DELETE")):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
        if create:
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {action} ON ledger_entries "
                "BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END"
            )


def upgrade():
    op.create_table(
        "expiry_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["lot_id"], ["lots.id"],
                                name=op.f("fk_expiry_notices_lot_id_lots")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expiry_notices")),
        sa.UniqueConstraint("lot_id", "window_days", name=op.f("uq_expiry_notices_lot_id")),
    )

    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("minutes_on_hold", sa.Integer(), nullable=False,
                                      server_default="0"))
        batch_op.create_check_constraint(
            "hold_within_grant",
            "minutes_on_hold >= 0 AND minutes_remaining + minutes_on_hold <= minutes_granted")

    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("refunded_minor", sa.Integer(), nullable=False,
                                      server_default="0"))
        batch_op.add_column(sa.Column("dispute_status", sa.String(length=40), nullable=True))
        batch_op.drop_constraint(op.f("ck_purchases_status"), type_="check")
        batch_op.create_check_constraint("status", f"status IN ({NEW_STATUSES})")
        batch_op.drop_constraint(op.f("ck_purchases_paid_when_completed"), type_="check")
        batch_op.create_check_constraint(
            "paid_when_completed", f"status NOT IN ({PAID}) OR paid_at IS NOT NULL")
        batch_op.create_check_constraint(
            "refund_within_price", "refunded_minor >= 0 AND refunded_minor <= price_minor")

    _sqlite_append_only_triggers(create=False)
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_ledger_entries_kind"), type_="check")
        batch_op.create_check_constraint("kind", f"kind IN ({NEW_KINDS})")
        batch_op.drop_constraint(op.f("ck_ledger_entries_minutes_nonzero"), type_="check")
        batch_op.create_check_constraint(
            "minutes_nonzero", "minutes <> 0 OR kind IN ('expiry_extension', 'dispute_loss')")
    _sqlite_append_only_triggers(create=True)


def downgrade():
    _sqlite_append_only_triggers(create=False)
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_ledger_entries_minutes_nonzero"), type_="check")
        batch_op.create_check_constraint("minutes_nonzero", "minutes <> 0")
        batch_op.drop_constraint(op.f("ck_ledger_entries_kind"), type_="check")
        batch_op.create_check_constraint("kind", f"kind IN ({OLD_KINDS})")
    _sqlite_append_only_triggers(create=True)

    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_purchases_refund_within_price"), type_="check")
        batch_op.drop_constraint(op.f("ck_purchases_paid_when_completed"), type_="check")
        batch_op.create_check_constraint(
            "paid_when_completed", "status <> 'completed' OR paid_at IS NOT NULL")
        batch_op.drop_constraint(op.f("ck_purchases_status"), type_="check")
        batch_op.create_check_constraint("status", f"status IN ({OLD_STATUSES})")
        batch_op.drop_column("dispute_status")
        batch_op.drop_column("refunded_minor")

    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_lots_hold_within_grant"), type_="check")
        batch_op.drop_column("minutes_on_hold")

    op.drop_table("expiry_notices")
