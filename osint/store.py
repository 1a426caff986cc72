"""Opening the case store from settings, with errors a user can act on.

SQLAlchemy and alembic load only when the store opens: :func:`quick_case_list` answers
``osint case list`` over the database driver alone when the database is ready
(:mod:`osint.storage.catalog`), and falls back to the full store otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from osint.config import Settings
from osint.errors import ConfigError, StoreError
from osint.storage.catalog import (
    CaseSummary,
    DatabaseUnreachable,
    PlainTarget,
    plain_target,
    read_case_list,
)

if TYPE_CHECKING:
    from osint.storage.db import Store


def ensure_home(home: Path) -> Path:
    """Create OSINT_HOME if needed and check that osint can write there."""
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the data folder {home}: {exc.strerror or exc}",
            hint="set OSINT_HOME or --home to a folder you can write to",
        ) from exc
    if not os.access(home, os.W_OK | os.X_OK):
        raise ConfigError(
            f"the data folder {home} is not writable",
            hint="set OSINT_HOME or --home to a folder you can write to",
        )
    return home


def open_store(settings: Settings, *, migrate: bool = True) -> Store:
    """Connect to the configured database, applying migrations on first use."""
    from sqlalchemy.exc import OperationalError, SQLAlchemyError

    from osint.storage.db import SchemaTooNew, Store, create_store_engine, upgrade
    from osint.storage.media import FileMediaStore

    url = settings.db_url
    sqlite_file = url.database if url.get_backend_name() == "sqlite" else None
    _ensure_folders(settings, sqlite_file)
    engine = create_store_engine(url)
    safe_url = url.render_as_string(hide_password=True)
    try:
        if migrate:
            upgrade(engine)
        else:
            with engine.connect():
                pass
    except SchemaTooNew as exc:
        engine.dispose()
        raise StoreError(
            f"the database {safe_url} was upgraded by a newer osint (schema {exc.args[0]})",
            hint="upgrade osint: pip install -U osint",
        ) from exc
    except OperationalError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise _unreachable(safe_url, reason) from exc
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(f"cannot use the database {safe_url}: {exc}") from exc
    return Store(engine, FileMediaStore(settings.media_dir))


def _ensure_folders(settings: Settings, sqlite_file: str | None) -> None:
    ensure_home(settings.home)
    if sqlite_file not in (None, "", ":memory:"):
        ensure_home(Path(sqlite_file).expanduser().resolve().parent)


def _unreachable(safe_url: str, reason: str) -> StoreError:
    return StoreError(
        f"cannot open the database {safe_url}: {reason}",
        hint="check that the server is running and OSINT_DB / --db is right",
    )


def quick_case_list(settings: Settings) -> list[CaseSummary] | None:
    """The cases as ``osint.cases.list_cases`` lists them, read without SQLAlchemy; None when
    the database needs the full store (to be created or migrated, or an unusual URL)."""
    target: PlainTarget | None = plain_target(settings.db)
    if target is None:
        return None
    _ensure_folders(settings, target.database if target.backend == "sqlite" else None)
    try:
        return read_case_list(target)
    except DatabaseUnreachable as exc:
        safe_url = settings.db_url.render_as_string(hide_password=True)
        raise _unreachable(safe_url, exc.args[0]) from exc
