"""collection: structured post content, posts seen through a reference, media retry state

Revision ID: 0004
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import osint.storage.types

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("content", osint.storage.types.JSONType, nullable=True))
        batch_op.add_column(sa.Column("seen_via", sa.String(length=20), nullable=True))
    with op.batch_alter_table("post_media", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("retry_after", osint.storage.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("post_media", schema=None) as batch_op:
        batch_op.drop_column("retry_after")
        batch_op.drop_column("attempts")
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_column("seen_via")
        batch_op.drop_column("content")
