"""Fixtures shared by the whole suite.

The database the suite runs on comes from ``OSINT_TEST_DB``: unset means SQLite (a fresh file per
test, copied from one migrated template); a PostgreSQL URL means one schema per test session
(migrated once, emptied after each test), so concurrent runs never see each other's rows.
Tests that need PostgreSQL whatever the suite runs on use ``pg_url`` and fail if it is down.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from osint.cli import cli
from osint.config import Settings, load_settings
from osint.storage.db import Store, create_store_engine, upgrade
from osint.storage.models import Base
from osint.store import open_store

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("OSINT_SHARED_DATA", REPO.parent / "shared" / "data"))
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pytest_report_header(config: pytest.Config) -> str:
    return f"osint test database: {os.environ.get('OSINT_TEST_DB') or 'sqlite (per test)'}"


def _pg_schema_url(base: str, schema: str) -> str:
    url = make_url(base).set(drivername="postgresql+psycopg")
    url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_base_url() -> str:
    return os.environ.get("OSINT_TEST_PG", DEFAULT_PG)


@pytest.fixture(scope="session")
def pg_schema_factory(pg_base_url: str) -> Iterator[object]:
    """Creates fresh, migrated PostgreSQL schemas; drops them all at the end of the session."""
    admin = create_engine(make_url(pg_base_url).set(drivername="postgresql+psycopg"))
    made: list[str] = []

    def make(*, migrate: bool = True) -> str:
        schema = f"osint_test_{uuid.uuid4().hex[:12]}"
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        made.append(schema)
        url = _pg_schema_url(pg_base_url, schema)
        if not migrate:
            return url
        engine = create_store_engine(make_url(url))
        upgrade(engine)
        engine.dispose()
        return url

    yield make
    with admin.begin() as conn:
        for schema in made:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def pg_url(pg_schema_factory: object) -> str:
    """A migrated PostgreSQL schema of this test's own (whatever OSINT_TEST_DB says)."""
    return pg_schema_factory()  # type: ignore[operator]


@pytest.fixture(scope="session")
def _suite_db(tmp_path_factory: pytest.TempPathFactory, pg_schema_factory: object) -> str:
    """The suite-wide database: a migrated SQLite template file, or a migrated PG schema URL."""
    wanted = os.environ.get("OSINT_TEST_DB", "")
    if wanted.startswith("postgres"):
        return pg_schema_factory()  # type: ignore[operator]
    template = tmp_path_factory.mktemp("dbtemplate") / "template.db"
    engine = create_store_engine(make_url(f"sqlite:///{template}"))
    upgrade(engine)
    engine.dispose()
    return str(template)


def _empty_pg(url: str) -> None:
    engine = create_engine(url)
    names = ", ".join(f'"{t.name}"' for t in reversed(Base.metadata.sorted_tables))
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def db_url(_suite_db: str, tmp_path: Path) -> Iterator[str]:
    """A database URL for this test, empty and migrated, on the suite's backend."""
    if _suite_db.startswith("postgresql"):
        _empty_pg(_suite_db)
        yield _suite_db
    else:
        path = tmp_path / "osint.db"
        shutil.copyfile(_suite_db, path)
        yield f"sqlite:///{path}"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def settings(home: Path, db_url: str) -> Settings:
    return load_settings(home=home, db=db_url, environ={})


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    st = open_store(settings)
    yield st
    st.dispose()


class CliRun:
    """Runs the real command line in-process against this test's home and database."""

    def __init__(self, home: Path, db_url: str) -> None:
        self.home = home
        self.db_url = db_url
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None, expect: int | None = 0) -> Result:
        from osint.cli import main

        argv = ["--home", str(self.home), "--db", self.db_url, *args]
        result = self.runner.invoke(_MainCommand(main), argv, input=input, catch_exceptions=False)
        if expect is not None:
            assert result.exit_code == expect, (
                f"osint {' '.join(args)} exited {result.exit_code}, expected {expect}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result


class _MainCommand:
    """Adapter so CliRunner drives cli.main (the error edge), not just the click group."""

    def __init__(self, main: object) -> None:
        self.main_fn = main
        self.name = "osint"

    def main(self, args: list[str], prog_name: str | None = None, **_: object) -> None:
        raise SystemExit(self.main_fn(list(args)))  # type: ignore[operator]


@pytest.fixture
def run_cli(home: Path, db_url: str) -> CliRun:
    return CliRun(home, db_url)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared datasets not found at {SHARED_DATA} (set OSINT_SHARED_DATA)")
    return SHARED_DATA


__all__ = ["CliRun", "cli"]


# -- the replay server (tests/demo/replay/worlds.py builds the standard worlds) -------------------
X_TOKEN = "test-bearer-AAAAxyz0987654321-secret"


@pytest.fixture
def replay() -> Iterator[object]:
    """A running replay server over an empty World (``replay.world``), stopped after the test."""
    from osint.demo.replay import ReplayServer, World

    world = World()
    world.tokens["x"] = {X_TOKEN}
    with ReplayServer(world) as server:
        yield server
    assert not server.errors, f"the replay server failed: {server.errors[0]}"


def replay_x_env(replay: object) -> dict[str, str]:
    """Environment that points the command line's X collector at ``replay``, with no pauses."""
    return {
        "OSINT_X_API_URL": replay.base_url("x"),  # type: ignore[attr-defined]
        "OSINT_X_BEARER_TOKEN": X_TOKEN,
        "OSINT_HTTP_MIN_INTERVAL": "0",
    }


def spawn_env(home: Path, db_url: str, **extra: str) -> dict[str, str]:
    """The environment of an osint process started on ``home`` and ``db_url``: no pauses between
    requests, short retries, and ``extra``."""
    return {
        **os.environ,
        "OSINT_HOME": str(home),
        "OSINT_DB": db_url,
        "OSINT_HTTP_MIN_INTERVAL": "0",
        "OSINT_HTTP_BACKOFF": "0.01",
        **extra,
    }


@pytest.fixture
def x_cli_env(replay: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line (``run_cli``) collects X from the replay server."""
    for name, value in replay_x_env(replay).items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def x_settings(settings: Settings, replay: object) -> Settings:
    """Settings pointing every collector at the replay server, with tiny waits."""
    from osint.config import Secret

    return settings.with_overrides(
        **replay.settings_overrides(),  # type: ignore[attr-defined]
        x_bearer_token=Secret(X_TOKEN),
        http_min_interval=0.0,
        http_backoff=0.01,
        http_timeout=1.0,
        http_retries=3,
        max_rate_wait=5.0,
    )


# -- the demo world ----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def demo_scenario() -> object:
    """The default demo scenario, built (and its pictures drawn, ~2 s) once per test session.

    Shared by every test that reads it: treat it as read-only (``run_demo`` only reads it)."""
    from osint.demo.scenario import build_scenario

    scenario = build_scenario()
    scenario.images  # noqa: B018 (drawn once here rather than in each test that needs them)
    return scenario
