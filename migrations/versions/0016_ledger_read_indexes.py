"""ledger read indexes: a student's balance, open lots, latest rows and history pages are
read through indexes, never by scanning their ledger

Revision ID: 0016_ledger_read_indexes
Revises: 0015_webhook_log
Create Date: 2026-11-27 14:30:00.000000

Each single-column student_id index is replaced by a composite one that starts with
student_id, so lookups by student alone (foreign keys, verify) are still served.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016_ledger_read_indexes'
down_revision = '0015_webhook_log'
branch_labels = None
depends_on = None

OPEN_LOT = "minutes_remaining > 0 OR minutes_on_hold > 0"
NOT_SESSION_MOVEMENT = "kind NOT IN ('consumption', 'consumption_reversal')"


def upgrade():
    with op.batch_alter_table('lots', schema=None) as batch_op:
        batch_op.create_index('ix_lots_student_expires', ['student_id', 'expires_at', 'id'],
                              unique=False)
        batch_op.create_index('ix_lots_student_open', ['student_id', 'expires_at'], unique=False,
                              postgresql_where=sa.text(OPEN_LOT),
                              sqlite_where=sa.text(OPEN_LOT))
        batch_op.drop_index('ix_lots_student_id')

    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_entries_student_entry', ['student_id', 'id'],
                              unique=False)
        batch_op.create_index('ix_ledger_entries_student_movements',
                              ['student_id', 'lot_id', 'kind', 'minutes'], unique=False,
                              postgresql_where=sa.text(NOT_SESSION_MOVEMENT),
                              sqlite_where=sa.text(NOT_SESSION_MOVEMENT))
        batch_op.create_index('ix_ledger_entries_student_kind_entry',
                              ['student_id', 'kind', 'id'], unique=False,
                              postgresql_include=['session_ref'])
        batch_op.drop_index('ix_ledger_entries_student_id')

    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.create_index('ix_purchases_student_created', ['student_id', 'created_at', 'id'],
                              unique=False)
        batch_op.drop_index('ix_purchases_student_id')


def downgrade():
    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.create_index('ix_purchases_student_id', ['student_id'], unique=False)
        batch_op.drop_index('ix_purchases_student_created')

    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_entries_student_id', ['student_id'], unique=False)
        batch_op.drop_index('ix_ledger_entries_student_kind_entry')
        batch_op.drop_index('ix_ledger_entries_student_movements')
        batch_op.drop_index('ix_ledger_entries_student_entry')

    with op.batch_alter_table('lots', schema=None) as batch_op:
        batch_op.create_index('ix_lots_student_id', ['student_id'], unique=False)
        batch_op.drop_index('ix_lots_student_open')
        batch_op.drop_index('ix_lots_student_expires')
