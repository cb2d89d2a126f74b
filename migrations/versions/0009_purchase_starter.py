"""purchases remember which browser started them

Revision ID: 0009_purchase_starter
Revises: 0008_plan_validity_session_refs
Create Date: 2026-11-27 09:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_purchase_starter'
down_revision = '0008_plan_validity_session_refs'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('started_by', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.drop_column('started_by')
