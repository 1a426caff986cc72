"""The light case list (storage/catalog.py) against the full store, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from osint.cases import create_case, list_cases
from osint.config import Settings, load_settings, parse_db_url
from osint.errors import StoreError
from osint.storage.catalog import migration_head, plain_target, read_case_list
from osint.storage.db import Store, head_revision
from osint.store import open_store, quick_case_list
from tests.casebuild import build_case


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Settings, Store]]:
    """A migrated store on each backend, whatever OSINT_TEST_DB says."""
    home = tmp_path / "home"
    if request.param == "sqlite":
        db = f"sqlite:///{tmp_path / 'osint.db'}"
    else:
        db = request.getfixturevalue("pg_url")
    settings = load_settings(home=home, db=db, environ={})
    store = open_store(settings)
    yield settings, store
    store.dispose()


def test_light_list_is_the_full_list(backend: tuple[Settings, Store]) -> None:
    settings, store = backend
    build_case(store, settings, "gossi")
    create_case(store, "empty", title="nothing yet")
    full = list_cases(store)
    light = quick_case_list(settings)
    assert light == full
    gossi = full[0]
    assert [c.name for c in full] == ["gossi", "empty"]
    assert gossi.accounts > 0 and gossi.posts > 0 and gossi.media > 0 and gossi.findings > 0
    assert gossi.created_at.utcoffset() is not None and light[0].created_at == gossi.created_at


def test_empty_store_lists_nothing(backend: tuple[Settings, Store]) -> None:
    settings, _ = backend
    assert quick_case_list(settings) == []


def test_database_at_another_revision_needs_the_full_store(
    backend: tuple[Settings, Store],
) -> None:
    settings, store = backend
    create_case(store, "x")
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    assert quick_case_list(settings) is None
    with store.engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
    assert quick_case_list(settings) is None


def test_missing_sqlite_file_is_left_to_the_full_store(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path / "home", environ={})
    assert quick_case_list(settings) is None
    assert not (tmp_path / "home" / "osint.db").exists()  # nothing created by the light read
    open_store(settings).dispose()
    assert quick_case_list(settings) == []


def test_sqlite_file_that_is_not_a_database(tmp_path: Path) -> None:
    (tmp_path / "osint.db").write_text("not sqlite")
    target = plain_target(f"sqlite:///{tmp_path / 'osint.db'}")
    assert target is not None and read_case_list(target) is None


def test_unreachable_server_gives_the_full_store_error(tmp_path: Path) -> None:
    settings = load_settings(
        home=tmp_path, db="postgresql://postgres@127.0.0.1:1/none?connect_timeout=2", environ={}
    )
    with pytest.raises(StoreError) as light:
        quick_case_list(settings)
    with pytest.raises(StoreError) as full:
        open_store(settings)
    assert str(light.value) == str(full.value)
    assert "cannot open the database postgresql+psycopg://postgres@127.0.0.1:1/none" in str(
        light.value
    )


def test_migration_head_is_alembic_head() -> None:
    assert migration_head() == head_revision()


def test_migration_head_of_a_chain_and_of_two_branches(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text('revision = "0001"\ndown_revision = None\n')
    (tmp_path / "b.py").write_text('revision: str = "0002"\ndown_revision: str | None = "0001"\n')
    assert migration_head(tmp_path) == "0002"
    (tmp_path / "c.py").write_text("revision = '0003'\ndown_revision = '0001'\n")
    assert migration_head(tmp_path) is None  # two heads: alembic must sort it out
    (tmp_path / "d.py").write_text('revision = "0004"\ndown_revision = ("0002", "0003")\n')
    assert migration_head(tmp_path) == "0004"


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///osint.db",
        "sqlite:////var/lib/osint/osint.db",
        "sqlite:///with%20space/o.db",
        "sqlite+pysqlite:///x.db",
        "postgresql://postgres@127.0.0.1:5432/test",
        "postgresql+psycopg://u:p%40ss@db.example/osint?sslmode=require",
        "postgres://u@[::1]:5433/d?options=-csearch_path%3Dcase1",
        "postgresql:///osint",
    ],
)
def test_plain_urls_parse_as_sqlalchemy_parses_them(url: str) -> None:
    target = plain_target(url)
    parsed = parse_db_url(url)  # as osint normalises it (postgres:// is PostgreSQL)
    assert target is not None
    assert target.backend == parsed.get_backend_name()
    if target.backend == "sqlite":
        assert target.database == parsed.database
    else:
        expected = parsed.translate_connect_args(username="user", database="dbname")
        expected.update(parsed.query)
        assert target.connect_args == expected


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///file:x.db?mode=ro&uri=true",
        "sqlite:///x.db?timeout=5",
        "mysql://u@h/d",
        "postgresql+asyncpg://u@h/d",
        "postgresql://u@h:notaport/d",
        "postgresql://u@h/d?host=other",
        "not a url",
    ],
)
def test_other_urls_are_left_to_sqlalchemy(url: str) -> None:
    assert plain_target(url) is None
