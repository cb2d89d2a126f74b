"""plan rollover: a subscription plan may carry a month's unused minutes into the next;
ledger entries rollover_out / rollover_in record the carried minutes; a free subscription
month (trial, 100% coupon) is a purchase of price 0; a subscription's state rank puts
incomplete below the other states reported in the same second

Revision ID: 0014_plan_rollover
Revises: 0013_subscriptions
Create Date: 2026-11-28 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = '0014_plan_rollover'
down_revision = '0013_subscriptions'
branch_labels = None
depends_on = None

OLD_KINDS = ("'purchase_credit', 'consumption', 'consumption_reversal', 'expiry', "
             "'refund_reversal', 'adjustment', 'dispute_hold', 'dispute_release', "
             "'expiry_extension', 'dispute_loss', 'cancellation_unreturned', "
             "'dispute_opened', 'dispute_won'")
NEW_KINDS = OLD_KINDS + ", 'rollover_out', 'rollover_in'"
FREE_MONTH = "price_minor > 0 OR (price_minor = 0 AND stripe_invoice_id IS NOT NULL)"


RANKS = {
    "new": "CASE WHEN status IN ('canceled', 'incomplete_expired') THEN 3 "
           "WHEN status = 'incomplete' THEN 1 ELSE 2 END",
    "old": "CASE WHEN status IN ('canceled', 'incomplete_expired') THEN 2 ELSE 1 END",
}


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


def _set_kinds(kinds: str) -> None:
    _append_only(enabled=False)
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_ledger_entries_kind"), type_="check")
        batch_op.create_check_constraint("kind", f"kind IN ({kinds})")
    _append_only(enabled=True)


def _rank(which: str) -> None:
    op.execute(f"UPDATE subscriptions SET state_rank = {RANKS[which]} WHERE state_rank > 0")


def upgrade():
    _rank("new")
    _set_kinds(NEW_KINDS)
    with op.batch_alter_table('pricing_plans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rollover_unused', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_purchases_price_positive'), type_='check')
        batch_op.create_check_constraint('price_positive_or_free_month', FREE_MONTH)


def downgrade():
    # Refused by the kind check while rollover entries exist: the ledger is append-only.
    _set_kinds(OLD_KINDS)
    _rank("old")
    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_purchases_price_positive_or_free_month'),
                                 type_='check')
        batch_op.create_check_constraint('price_positive', 'price_minor > 0')
    with op.batch_alter_table('pricing_plans', schema=None) as batch_op:
        batch_op.drop_column('rollover_unused')
