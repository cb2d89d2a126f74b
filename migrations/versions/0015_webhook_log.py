"""webhook log: what `flask stripe reconcile` last found, for the staff webhook log

Revision ID: 0015_webhook_log
Revises: 0013_subscriptions
Create Date: 2026-11-27 11:50:18.140047

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015_webhook_log'
down_revision = '0014_plan_rollover'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('reconcile_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('checked', sa.Integer(), nullable=False),
    sa.CheckConstraint('checked >= 0', name=op.f('ck_reconcile_runs_checked_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reconcile_runs'))
    )
    with op.batch_alter_table('reconcile_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reconcile_runs_finished_at'), ['finished_at'], unique=False)

    op.create_table('reconcile_findings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('purchase_id', sa.Integer(), nullable=True),
    sa.Column('payment_intent_id', sa.String(length=255), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.CheckConstraint("kind IN ('mismatch', 'failure')", name=op.f('ck_reconcile_findings_kind')),
    sa.ForeignKeyConstraint(['purchase_id'], ['purchases.id'], name=op.f('fk_reconcile_findings_purchase_id_purchases')),
    sa.ForeignKeyConstraint(['run_id'], ['reconcile_runs.id'], name=op.f('fk_reconcile_findings_run_id_reconcile_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reconcile_findings'))
    )
    with op.batch_alter_table('reconcile_findings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reconcile_findings_run_id'), ['run_id'], unique=False)



def downgrade():
    with op.batch_alter_table('reconcile_findings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reconcile_findings_run_id'))

    op.drop_table('reconcile_findings')
    with op.batch_alter_table('reconcile_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reconcile_runs_finished_at'))

    op.drop_table('reconcile_runs')
