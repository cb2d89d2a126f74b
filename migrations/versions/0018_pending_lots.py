"""pending lots: a bank payment still clearing (SEPA Direct Debit and other delayed methods)
grants its purchase a lot whose minutes are pending, not available

Lots get `minutes_pending` (the whole grant while the payment clears; never drawn from,
never expiring), balances `pending_minutes` (their sum per student), and ledger entries
`pending_minutes` with three kinds that alone move it: `pending_credit`, `pending_cleared`
(the payment succeeded: its purchase_credit follows) and `pending_removed` (it failed).

Revision ID: 0018_pending_lots
Revises: 0017_plan_prices
Create Date: 2026-11-27 20:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0018_pending_lots'
down_revision = '0017_plan_prices'
branch_labels = None
depends_on = None

OLD_KINDS = ("'purchase_credit', 'consumption', 'consumption_reversal', 'expiry', "
             "'refund_reversal', 'adjustment', 'dispute_hold', 'dispute_release', "
             "'expiry_extension', 'dispute_loss', 'cancellation_unreturned', "
             "'dispute_opened', 'dispute_won', 'rollover_out', 'rollover_in'")
PENDING = "'pending_credit', 'pending_cleared', 'pending_removed'"
NEW_KINDS = f"{OLD_KINDS}, {PENDING}"
OLD_RECORDS = ("'expiry_extension', 'dispute_loss', 'cancellation_unreturned', "
               "'dispute_opened', 'dispute_won'")
NEW_RECORDS = f"{OLD_RECORDS}, {PENDING}"
PENDING_KINDS = f"(kind IN ({PENDING})) = (pending_minutes <> 0 AND minutes = 0)"
PENDING_LOT = ("minutes_pending = 0 OR (minutes_pending = minutes_granted"
               " AND minutes_remaining = 0 AND minutes_on_hold = 0)")


def _append_only(enabled: bool) -> None:
    """Lift the append-only guard while the table is rebuilt (SQLite's batch mode drops
    its triggers), then restore it."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE ledger_entries {'ENABLE' if enabled else 'DISABLE'} "
                   "TRIGGER ledger_entries_append_only")
        return
    for name, action in (("ledger_entries_no_update", "UPDATE"),
                         ("ledger_entries_no_delete", "DELETE")):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
        if enabled:
            op.execute(f"CREATE TRIGGER {name} BEFORE {action} ON ledger_entries "
                       "BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END")


def upgrade():
    with op.batch_alter_table('balances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pending_minutes', sa.Integer(), nullable=False,
                                      server_default=sa.text('0')))
        batch_op.create_check_constraint('pending_nonnegative', 'pending_minutes >= 0')
    with op.batch_alter_table('lots', schema=None) as batch_op:
        batch_op.add_column(sa.Column('minutes_pending', sa.Integer(), nullable=False,
                                      server_default=sa.text('0')))
        batch_op.create_check_constraint('pending_nonnegative', 'minutes_pending >= 0')
        batch_op.create_check_constraint('pending_whole_and_unspent', PENDING_LOT)
    _append_only(enabled=False)
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pending_minutes', sa.Integer(), nullable=False,
                                      server_default=sa.text('0')))
        batch_op.drop_constraint(op.f('ck_ledger_entries_kind'), type_='check')
        batch_op.create_check_constraint('kind', f'kind IN ({NEW_KINDS})')
        batch_op.drop_constraint(op.f('ck_ledger_entries_minutes_nonzero'), type_='check')
        batch_op.create_check_constraint('minutes_nonzero',
                                         f'minutes <> 0 OR kind IN ({NEW_RECORDS})')
        batch_op.create_check_constraint('pending_kinds', PENDING_KINDS)
    _append_only(enabled=True)


def downgrade():
    # Refused by the kind check while pending entries exist: the ledger is append-only.
    _append_only(enabled=False)
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_ledger_entries_pending_kinds'), type_='check')
        batch_op.drop_constraint(op.f('ck_ledger_entries_minutes_nonzero'), type_='check')
        batch_op.create_check_constraint('minutes_nonzero',
                                         f'minutes <> 0 OR kind IN ({OLD_RECORDS})')
        batch_op.drop_constraint(op.f('ck_ledger_entries_kind'), type_='check')
        batch_op.create_check_constraint('kind', f'kind IN ({OLD_KINDS})')
        batch_op.drop_column('pending_minutes')
    _append_only(enabled=True)
    with op.batch_alter_table('lots', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_lots_pending_whole_and_unspent'), type_='check')
        batch_op.drop_constraint(op.f('ck_lots_pending_nonnegative'), type_='check')
        batch_op.drop_column('minutes_pending')
    with op.batch_alter_table('balances', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_balances_pending_nonnegative'), type_='check')
        batch_op.drop_column('pending_minutes')
