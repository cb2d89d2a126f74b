"""initial schema: users, plans, purchases, ledger, webhook events

Revision ID: 0001_initial
Revises: (none)
Create Date: 2026-11-26 08:04:49.713584

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0001_initial'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('pricing_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('plan_type', sa.String(length=20), nullable=False),
    sa.Column('minutes_included', sa.Integer(), nullable=False),
    sa.Column('price_minor', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('validity_days', sa.Integer(), nullable=True),
    sa.Column('display_order', sa.Integer(), nullable=False),
    sa.Column('is_featured', sa.Boolean(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(plan_type = 'package' AND validity_days IS NOT NULL AND validity_days >= 1) OR (plan_type = 'subscription' AND validity_days IS NULL)", name=op.f('ck_pricing_plans_validity_by_type')),
    sa.CheckConstraint("plan_type IN ('package', 'subscription')", name=op.f('ck_pricing_plans_plan_type')),
    sa.CheckConstraint('length(currency) = 3 AND currency = lower(currency)', name=op.f('ck_pricing_plans_currency')),
    sa.CheckConstraint('minutes_included > 0', name=op.f('ck_pricing_plans_minutes_positive')),
    sa.CheckConstraint('price_minor >= 50 AND price_minor <= 1000000', name=op.f('ck_pricing_plans_price_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pricing_plans')),
    sa.UniqueConstraint('name', name=op.f('uq_pricing_plans_name'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('name', sa.String(length=150), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('is_staff', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('email = lower(email)', name=op.f('ck_users_email_lowercase')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    op.create_table('webhook_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stripe_event_id', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_events')),
    sa.UniqueConstraint('stripe_event_id', name=op.f('uq_webhook_events_stripe_event_id'))
    )
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_events_type'), ['type'], unique=False)

    op.create_table('balances',
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('available_minutes', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('available_minutes >= 0', name=op.f('ck_balances_available_nonnegative')),
    sa.ForeignKeyConstraint(['student_id'], ['users.id'], name=op.f('fk_balances_student_id_users')),
    sa.PrimaryKeyConstraint('student_id', name=op.f('pk_balances'))
    )
    op.create_table('purchases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('plan_name', sa.String(length=100), nullable=False),
    sa.Column('plan_type', sa.String(length=20), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('price_minor', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('validity_days', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempt_key', sa.String(length=64), nullable=False),
    sa.Column('payment_intent_id', sa.String(length=255), nullable=True),
    sa.Column('failure_message', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status <> 'completed' OR paid_at IS NOT NULL", name=op.f('ck_purchases_paid_when_completed')),
    sa.CheckConstraint("status IN ('pending', 'processing', 'completed', 'failed', 'cancelled')", name=op.f('ck_purchases_status')),
    sa.CheckConstraint('minutes > 0', name=op.f('ck_purchases_minutes_positive')),
    sa.CheckConstraint('price_minor > 0', name=op.f('ck_purchases_price_positive')),
    sa.ForeignKeyConstraint(['plan_id'], ['pricing_plans.id'], name=op.f('fk_purchases_plan_id_pricing_plans')),
    sa.ForeignKeyConstraint(['student_id'], ['users.id'], name=op.f('fk_purchases_student_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_purchases')),
    sa.UniqueConstraint('attempt_key', name=op.f('uq_purchases_attempt_key')),
    sa.UniqueConstraint('payment_intent_id', name=op.f('uq_purchases_payment_intent_id'))
    )
    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_purchases_student_id'), ['student_id'], unique=False)
        batch_op.create_index('ix_purchases_student_plan_status', ['student_id', 'plan_id', 'status'], unique=False)

    op.create_table('lots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('purchase_id', sa.Integer(), nullable=False),
    sa.Column('minutes_granted', sa.Integer(), nullable=False),
    sa.Column('minutes_remaining', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('minutes_granted > 0', name=op.f('ck_lots_granted_positive')),
    sa.CheckConstraint('minutes_remaining >= 0 AND minutes_remaining <= minutes_granted', name=op.f('ck_lots_remaining_within_grant')),
    sa.ForeignKeyConstraint(['purchase_id'], ['purchases.id'], name=op.f('fk_lots_purchase_id_purchases')),
    sa.ForeignKeyConstraint(['student_id'], ['users.id'], name=op.f('fk_lots_student_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lots')),
    sa.UniqueConstraint('purchase_id', name=op.f('uq_lots_purchase_id'))
    )
    with op.batch_alter_table('lots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lots_student_id'), ['student_id'], unique=False)

    op.create_table('ledger_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('lot_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=255), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind <> 'purchase_credit' OR minutes > 0", name=op.f('ck_ledger_entries_credit_positive')),
    sa.CheckConstraint("kind IN ('purchase_credit', 'consumption', 'consumption_reversal', 'expiry', 'refund_reversal', 'adjustment', 'dispute_hold', 'dispute_release')", name=op.f('ck_ledger_entries_kind')),
    sa.CheckConstraint('minutes <> 0', name=op.f('ck_ledger_entries_minutes_nonzero')),
    sa.ForeignKeyConstraint(['lot_id'], ['lots.id'], name=op.f('fk_ledger_entries_lot_id_lots')),
    sa.ForeignKeyConstraint(['student_id'], ['users.id'], name=op.f('fk_ledger_entries_student_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entries')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_ledger_entries_idempotency_key'))
    )
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_entries_lot_id'), ['lot_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entries_reference'), ['reference'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entries_student_id'), ['student_id'], unique=False)



    if op.get_bind().dialect.name == "postgresql":
        # The ledger is append-only: the database refuses UPDATE and DELETE on its entries.
        op.execute(
            """
            CREATE FUNCTION ledger_entries_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'ledger_entries is append-only';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            """
            CREATE TRIGGER ledger_entries_append_only
            BEFORE UPDATE OR DELETE ON ledger_entries
            FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only()
            """
        )
    else:
        op.execute(
            """
            CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
            BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END
            """
        )
        op.execute(
            """
            CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
            BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END
            """
        )

def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER ledger_entries_append_only ON ledger_entries")
        op.execute("DROP FUNCTION ledger_entries_append_only()")
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_entries_student_id'))
        batch_op.drop_index(batch_op.f('ix_ledger_entries_reference'))
        batch_op.drop_index(batch_op.f('ix_ledger_entries_lot_id'))

    op.drop_table('ledger_entries')
    with op.batch_alter_table('lots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lots_student_id'))

    op.drop_table('lots')
    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.drop_index('ix_purchases_student_plan_status')
        batch_op.drop_index(batch_op.f('ix_purchases_student_id'))

    op.drop_table('purchases')
    op.drop_table('balances')
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_events_type'))

    op.drop_table('webhook_events')
    op.drop_table('users')
    op.drop_table('pricing_plans')
