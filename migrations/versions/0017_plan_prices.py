"""plan prices: a plan's price per currency (euros always, mirroring the plan's own price;
USD, GBP, BRL, CHF and JPY when staff add them), each with its subscription plan's monthly
Stripe Price; every existing plan gets its euro row

Revision ID: 0017_plan_prices
Revises: 0016_ledger_read_indexes
Create Date: 2026-12-02 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017_plan_prices'
down_revision = '0016_ledger_read_indexes'
branch_labels = None
depends_on = None

# Exponent-aware minor units: Stripe's minimum charge, our maximum (storefront/money.py).
RANGES = {"eur": (50, 1_000_000), "usd": (50, 1_000_000), "gbp": (30, 1_000_000),
          "brl": (50, 1_000_000), "chf": (50, 1_000_000), "jpy": (50, 1_000_000)}
CODES = ", ".join(f"'{code}'" for code in RANGES)
AMOUNT_RANGE = " OR ".join(
    f"(currency = '{code}' AND amount_minor >= {low} AND amount_minor <= {high})"
    for code, (low, high) in RANGES.items())


def upgrade():
    op.create_table(
        'plan_prices',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('plan_id', sa.Integer(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('amount_minor', sa.Integer(), nullable=False),
        sa.Column('stripe_price_id', sa.String(length=255), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"currency IN ({CODES})", name=op.f('ck_plan_prices_currency')),
        sa.CheckConstraint(AMOUNT_RANGE, name=op.f('ck_plan_prices_amount_range')),
        sa.ForeignKeyConstraint(['plan_id'], ['pricing_plans.id'],
                                name=op.f('fk_plan_prices_plan_id_pricing_plans'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_prices')),
        sa.UniqueConstraint('plan_id', 'currency', name=op.f('uq_plan_prices_plan_id')),
    )
    op.execute(
        "INSERT INTO plan_prices (plan_id, currency, amount_minor, stripe_price_id, created_at,"
        " updated_at) SELECT id, currency, price_minor, stripe_price_id, created_at, updated_at"
        " FROM pricing_plans")


def downgrade():
    op.drop_table('plan_prices')
