"""posts: time precision and posting client

Revision ID: 0005
Revises: 0006
Create Date: 2026-12-02 07:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("time_precision", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("client", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_column("client")
        batch_op.drop_column("time_precision")
