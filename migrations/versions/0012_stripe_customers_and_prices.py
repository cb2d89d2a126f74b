"""Stripe customers and prices: a student's Stripe Customer, a subscription plan's Product and
monthly Price

Revision ID: 0012_stripe_customers_and_prices
Revises: 0011_refused_payment_attempts
Create Date: 2026-11-27 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = '0012_stripe_customers_and_prices'
down_revision = '0011_refused_payment_attempts'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stripe_customer_id', sa.String(length=255), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_users_stripe_customer_id'),
                                          ['stripe_customer_id'])
    with op.batch_alter_table('pricing_plans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stripe_product_id', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('stripe_price_id', sa.String(length=255), nullable=True))


def downgrade():
    with op.batch_alter_table('pricing_plans', schema=None) as batch_op:
        batch_op.drop_column('stripe_price_id')
        batch_op.drop_column('stripe_product_id')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_users_stripe_customer_id'), type_='unique')
        batch_op.drop_column('stripe_customer_id')
