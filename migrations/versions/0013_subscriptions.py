"""subscriptions: Stripe Billing subscriptions, and purchases paid by their invoices

Revision ID: 0013_subscriptions
Revises: 0012_stripe_customers_and_prices
Create Date: 2026-11-27 09:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013_subscriptions'
down_revision = '0012_stripe_customers_and_prices'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stripe_subscription_id', sa.String(length=255), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('current_period_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('current_period_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancel_at_period_end', sa.Boolean(), nullable=False),
    sa.Column('canceled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('state_created', sa.BigInteger(), nullable=False),
    sa.Column('state_rank', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('incomplete', 'incomplete_expired', 'trialing', 'active', 'past_due', 'canceled', 'unpaid', 'paused')", name=op.f('ck_subscriptions_status')),
    sa.ForeignKeyConstraint(['plan_id'], ['pricing_plans.id'], name=op.f('fk_subscriptions_plan_id_pricing_plans')),
    sa.ForeignKeyConstraint(['student_id'], ['users.id'], name=op.f('fk_subscriptions_student_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriptions')),
    sa.UniqueConstraint('stripe_subscription_id', name=op.f('uq_subscriptions_stripe_subscription_id'))
    )
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subscriptions_student_id'), ['student_id'], unique=False)

    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subscription_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('stripe_invoice_id', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('period_start', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('period_end', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_purchases_subscription_id'), ['subscription_id'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_purchases_stripe_invoice_id'), ['stripe_invoice_id'])
        batch_op.create_foreign_key(batch_op.f('fk_purchases_subscription_id_subscriptions'), 'subscriptions', ['subscription_id'], ['id'])


def downgrade():
    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_purchases_subscription_id_subscriptions'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_purchases_stripe_invoice_id'), type_='unique')
        batch_op.drop_index(batch_op.f('ix_purchases_subscription_id'))
        batch_op.drop_column('period_end')
        batch_op.drop_column('period_start')
        batch_op.drop_column('stripe_invoice_id')
        batch_op.drop_column('subscription_id')

    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subscriptions_student_id'))

    op.drop_table('subscriptions')
