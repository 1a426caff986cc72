from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

from osint.storage.db import create_store_engine, current_revision, head_revision, upgrade
from osint.storage.models import Base


def _diff(url: str) -> list:
    engine = create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    engine.dispose()
    return diff


def test_upgrade_from_empty_sqlite_creates_every_table(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    engine = create_store_engine(make_url(url))
    assert current_revision(engine) is None
    assert upgrade(engine) == head_revision()
    assert current_revision(engine) == head_revision()
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert set(Base.metadata.tables) <= tables


def test_models_match_migrations_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    engine = create_store_engine(make_url(url))
    upgrade(engine)
    engine.dispose()
    assert _diff(url) == []


@pytest.mark.postgres
def test_models_match_migrations_on_postgres(pg_url: str) -> None:
    assert _diff(pg_url) == []


def test_upgrade_twice_is_a_no_op(tmp_path: Path) -> None:
    engine = create_store_engine(make_url(f"sqlite:///{tmp_path / 'x.db'}"))
    upgrade(engine)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()
