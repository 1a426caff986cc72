"""analysis runs: parameters, result arrays and candidate groups of each analysis

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 06:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import osint.storage.types
from sqlalchemy import Text  # noqa: F401  (used by rendered JSONB types)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine:
    return (
        sa.JSON()
        .with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")
        .with_variant(sqlite.JSON(), "sqlite")
    )


def _id() -> sa.types.TypeEngine:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "analysis_runs",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("case_id", _id(), nullable=False),
        sa.Column("analysis", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("parameters", _json(), nullable=False),
        sa.Column("summary", _json(), nullable=False),
        sa.Column("fingerprint", _json(), nullable=False),
        sa.Column("started_at", osint.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", osint.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("osint_version", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_analysis_runs_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_runs")),
    )
    with op.batch_alter_table("analysis_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_analysis_runs_case_id"), ["case_id", "analysis"], unique=False
        )
    op.create_table(
        "analysis_run_data",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("run_id", _id(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["analysis_runs.id"],
            name=op.f("fk_analysis_run_data_run_id_analysis_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_run_data")),
        sa.UniqueConstraint(
            "run_id", "name", "part", name=op.f("uq_analysis_run_data_run_id_name_part")
        ),
    )
    op.create_table(
        "analysis_run_groups",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("run_id", _id(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("p_value", sa.Float(), nullable=False),
        sa.Column("finding_id", _id(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("details", _json(), nullable=False),
        sa.ForeignKeyConstraint(
            ["finding_id"],
            ["findings.id"],
            name=op.f("fk_analysis_run_groups_finding_id_findings"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["analysis_runs.id"],
            name=op.f("fk_analysis_run_groups_run_id_analysis_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_run_groups")),
    )
    with op.batch_alter_table("analysis_run_groups", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_analysis_run_groups_run_id"), ["run_id", "rank"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("analysis_run_groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_analysis_run_groups_run_id"))
    op.drop_table("analysis_run_groups")
    op.drop_table("analysis_run_data")
    with op.batch_alter_table("analysis_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_analysis_runs_case_id"))
    op.drop_table("analysis_runs")
