from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url

from osint.storage.db import (
    MIGRATIONS_DIR,
    SchemaTooNew,
    create_store_engine,
    current_revision,
    head_revision,
    upgrade,
)
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


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on an empty database of each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        url = request.getfixturevalue("pg_schema_factory")(migrate=False)
    engine = create_store_engine(make_url(url))
    yield engine
    engine.dispose()


def test_a_database_behind_head_is_still_upgraded(empty_engine: Engine) -> None:
    # The quick "already at head" check must not wave an older schema through.
    head = head_revision()
    before = _revision_before(head)
    upgrade(empty_engine, before)
    assert current_revision(empty_engine) == before
    assert upgrade(empty_engine) == head
    assert current_revision(empty_engine) == head


def test_a_database_from_a_newer_osint_is_refused(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    with empty_engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    with pytest.raises(SchemaTooNew):
        upgrade(empty_engine)


def _revision_before(head: str) -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    down = ScriptDirectory.from_config(cfg).get_revision(head).down_revision
    assert isinstance(down, str)
    return down
