"""post_objects: drop the foreign keys on case_id and account_id (post_id implies both)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 05:15:00
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("post_objects", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_post_objects_case_id_cases"), type_="foreignkey")
        batch_op.drop_constraint(op.f("fk_post_objects_account_id_accounts"), type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("post_objects", schema=None) as batch_op:
        batch_op.create_foreign_key(
            op.f("fk_post_objects_account_id_accounts"),
            "accounts",
            ["account_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_foreign_key(
            op.f("fk_post_objects_case_id_cases"), "cases", ["case_id"], ["id"], ondelete="CASCADE"
        )
