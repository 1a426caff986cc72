"""post versions keep their own links, hashtags, mentions and attachments

Revision ID: 0006
Revises: 0004
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql, sqlite

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None

_COLUMNS = ("links", "hashtags", "mentions", "media")


def _json() -> sa.types.TypeEngine[Any]:
    return (
        sa.JSON()
        .with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")
        .with_variant(sqlite.JSON(), "sqlite")
    )


def upgrade() -> None:
    with op.batch_alter_table("post_versions", schema=None) as batch_op:
        for name in _COLUMNS:
            batch_op.add_column(
                sa.Column(name, _json(), server_default=sa.text("'[]'"), nullable=False)
            )


def downgrade() -> None:
    with op.batch_alter_table("post_versions", schema=None) as batch_op:
        for name in reversed(_COLUMNS):
            batch_op.drop_column(name)
