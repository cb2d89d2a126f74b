"""users: link secret (bound into claim and reset links; rotated when a password is set)

Revision ID: 0005_account_link_secrets
Revises: 0004_pending_registrations
"""
import secrets

import sqlalchemy as sa
from alembic import op

revision = "0005_account_link_secrets"
down_revision = "0004_pending_registrations"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("link_secret", sa.String(length=64), nullable=True))
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("link_secret", sa.String))
    connection = op.get_bind()
    for (user_id,) in connection.execute(sa.select(users.c.id)):
        connection.execute(
            users.update().where(users.c.id == user_id)
            .values(link_secret=secrets.token_hex(32))
        )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("link_secret", existing_type=sa.String(length=64),
                              nullable=False)


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("link_secret")
