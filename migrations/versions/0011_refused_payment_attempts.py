"""refused payment attempts: starts and payments refused during a decline cool-down, for staff

Revision ID: 0011_refused_payment_attempts
Revises: 0010_dispute_records
Create Date: 2026-11-27 09:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_refused_payment_attempts'
down_revision = '0010_dispute_records'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('refused_payment_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('attempt', sa.String(length=20), nullable=False),
    sa.Column('client_ip', sa.String(length=45), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('purchase_id', sa.Integer(), nullable=True),
    sa.Column('refused_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['purchase_id'], ['purchases.id'], name=op.f('fk_refused_payment_attempts_purchase_id_purchases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refused_payment_attempts'))
    )
    with op.batch_alter_table('refused_payment_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_refused_payment_attempts_at', ['refused_at'], unique=False)


def downgrade():
    with op.batch_alter_table('refused_payment_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_refused_payment_attempts_at')

    op.drop_table('refused_payment_attempts')
