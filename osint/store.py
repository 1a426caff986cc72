"""Opening the case store from settings, with errors a user can act on."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.exc import OperationalError, SQLAlchemyError

from osint.config import Settings
from osint.errors import ConfigError, StoreError
from osint.storage.db import SchemaTooNew, Store, create_store_engine, upgrade
from osint.storage.media import FileMediaStore


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
    ensure_home(settings.home)
    url = settings.db_url
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        ensure_home(Path(url.database).expanduser().resolve().parent)
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
        raise StoreError(
            f"cannot open the database {safe_url}: {reason}",
            hint="check that the server is running and OSINT_DB / --db is right",
        ) from exc
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(f"cannot use the database {safe_url}: {exc}") from exc
    return Store(engine, FileMediaStore(settings.media_dir))
