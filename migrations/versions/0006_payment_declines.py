"""payment declines: counted per buyer IP, email and purchase against card testing

Revision ID: 0006_payment_declines
Revises: 0005_account_link_secrets
Create Date: 2026-11-27 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_payment_declines'
down_revision = '0005_account_link_secrets'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('payment_declines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('decline_key', sa.String(length=255), nullable=False),
    sa.Column('purchase_id', sa.Integer(), nullable=False),
    sa.Column('payment_intent_id', sa.String(length=255), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('client_ip', sa.String(length=45), nullable=True),
    sa.Column('decline_code', sa.String(length=64), nullable=True),
    sa.Column('reported_by', sa.String(length=20), nullable=False),
    sa.Column('declined_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['purchase_id'], ['purchases.id'], name=op.f('fk_payment_declines_purchase_id_purchases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_declines')),
    sa.UniqueConstraint('decline_key', name=op.f('uq_payment_declines_decline_key'))
    )
    with op.batch_alter_table('payment_declines', schema=None) as batch_op:
        batch_op.create_index('ix_payment_declines_client_ip_at', ['client_ip', 'declined_at'], unique=False)
        batch_op.create_index('ix_payment_declines_email_at', ['email', 'declined_at'], unique=False)
        batch_op.create_index('ix_payment_declines_purchase_at', ['purchase_id', 'declined_at'], unique=False)

    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_ip', sa.String(length=45), nullable=True))


def downgrade():
    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.drop_column('client_ip')

    with op.batch_alter_table('payment_declines', schema=None) as batch_op:
        batch_op.drop_index('ix_payment_declines_purchase_at')
        batch_op.drop_index('ix_payment_declines_email_at')
        batch_op.drop_index('ix_payment_declines_client_ip_at')

    op.drop_table('payment_declines')
