"""plan rollover: a subscription plan may carry a month's unused minutes into the next;
a free subscription month (trial, 100% coupon) is a purchase of price 0; a subscription's
state rank puts incomplete below the other states reported in the same second

Revision ID: 0016_plan_rollover
Revises: 0013_subscriptions
Create Date: 2026-11-28 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = '0016_plan_rollover'
down_revision = '0013_subscriptions'
branch_labels = None
depends_on = None

FREE_MONTH = "price_minor > 0 OR (price_minor = 0 AND stripe_invoice_id IS NOT NULL)"


RANKS = {
    "new": "CASE WHEN status IN ('canceled', 'incomplete_expired') THEN 3 "
           "WHEN status = 'incomplete' THEN 1 ELSE 2 END",
    "old": "CASE WHEN status IN ('canceled', 'incomplete_expired') THEN 2 ELSE 1 END",
}


def _rank(which: str) -> None:
    op.execute(f"UPDATE subscriptions SET state_rank = {RANKS[which]} WHERE state_rank > 0")


def upgrade():
    _rank("new")
    with op.batch_alter_table('pricing_plans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rollover_unused', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_purchases_price_positive'), type_='check')
        batch_op.create_check_constraint('price_positive_or_free_month', FREE_MONTH)


def downgrade():
    _rank("old")
    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_purchases_price_positive_or_free_month'),
                                 type_='check')
        batch_op.create_check_constraint('price_positive', 'price_minor > 0')
    with op.batch_alter_table('pricing_plans', schema=None) as batch_op:
        batch_op.drop_column('rollover_unused')
