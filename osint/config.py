"""Settings, read in one place: command-line flag > environment > config file > default.

``OSINT_HOME`` is the data folder (database, media, WARC files); ``OSINT_DB`` a SQLAlchemy URL
overriding ``sqlite:///$OSINT_HOME/osint.db``. The optional config file is
``$OSINT_HOME/config.toml`` (or ``OSINT_CONFIG``), flat keys named like the environment variables
without the ``OSINT_`` prefix, in lower case (``db``, ``operator``, ``x_api_url``, ...).

Secrets (API tokens) come from the environment or the config file only. They are held in
:class:`Secret`, whose ``repr``/``str`` never show the value, and osint never writes them anywhere.
"""

from __future__ import annotations

import getpass
import os
import socket
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from osint.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL


class Secret:
    """A token that never shows itself in logs, reprs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Settings:
    """Everything osint reads from its surroundings; build it with :func:`load_settings`."""

    home: Path
    db: str
    config_path: Path
    operator: str = field(default_factory=lambda: _default_operator())
    hostname: str = field(default_factory=socket.gethostname)
    x_api_url: str = "https://api.x.com"
    x_bearer_token: Secret | None = None
    telegram_url: str = "https://t.me"
    bluesky_api_url: str = "https://public.api.bsky.app"
    mastodon_instance_url: str | None = None
    http_timeout: float = 30.0
    http_retries: int = 5
    http_min_interval: float = 1.0
    http_backoff: float = 1.0  # first retry delay in seconds; doubles each attempt, with jitter
    max_media_bytes: int = 200 * 1024 * 1024
    max_rate_wait: float = 15 * 60.0
    monitor_lease: float = 300.0  # seconds a worker holds a job before others may take it over
    monitor_poll: float = 15.0  # longest a long-running worker sleeps before looking for due jobs
    monitor_retry: float = 60.0  # first retry delay of a failing job; doubles on each failure
    monitor_max_backoff: float = 6 * 3600.0  # longest wait between retries of a failing job

    @property
    def db_url(self) -> URL:
        return parse_db_url(self.db)

    @property
    def media_dir(self) -> Path:
        return self.home / "media"

    @property
    def cases_dir(self) -> Path:
        return self.home / "cases"

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)


_SECRET_KEYS = {"x_bearer_token"}
_FLOAT_KEYS = {
    "http_timeout",
    "http_min_interval",
    "http_backoff",
    "max_rate_wait",
    "monitor_lease",
    "monitor_poll",
    "monitor_retry",
    "monitor_max_backoff",
}
_INT_KEYS = {"http_retries", "max_media_bytes"}


def _default_operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def default_home() -> Path:
    return Path(platformdirs.user_data_dir("osint", appauthor=False))


def parse_db_url(text: str) -> URL:
    """Parse and normalise a database URL; plain ``postgresql://`` uses psycopg 3."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(text)
    except ArgumentError as exc:
        raise ConfigError(
            f"OSINT_DB is not a database URL: {text!r}",
            hint="use e.g. sqlite:///path/osint.db or postgresql://user@host:5432/dbname",
        ) from exc
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"unsupported database {url.get_backend_name()!r} in OSINT_DB",
            hint="osint runs on SQLite (default) or PostgreSQL",
        )
    return url


def _read_config_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(
            f"cannot read config file {path}: {exc}", hint="fix or remove it"
        ) from exc
    known = {f.name for f in fields(Settings)} - {"home", "config_path"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(
            f"unknown setting(s) in {path}: {', '.join(unknown)}",
            hint=f"known settings: {', '.join(sorted(known))}",
        )
    return data


def _coerce(key: str, value: Any) -> Any:
    if value is None:
        return None
    try:
        if key in _SECRET_KEYS:
            return Secret(str(value)) if str(value) else None
        if key in _FLOAT_KEYS:
            return float(value)
        if key in _INT_KEYS:
            return int(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {key} has a bad value: {value!r}") from exc
    return str(value)


def load_settings(
    *,
    home: str | Path | None = None,
    db: str | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Resolve settings: explicit arguments (flags) > environment > config file > defaults."""
    env = os.environ if environ is None else environ
    home_path = Path(home or env.get("OSINT_HOME") or default_home()).expanduser()
    config_path = Path(env.get("OSINT_CONFIG") or home_path / "config.toml").expanduser()
    values: dict[str, Any] = _read_config_file(config_path)
    for f in fields(Settings):
        env_value = env.get(f"OSINT_{f.name.upper()}")
        if env_value is not None and f.name not in ("home", "config_path"):
            values[f.name] = env_value
    if db:
        values["db"] = db
    values.setdefault("db", f"sqlite:///{home_path / 'osint.db'}")
    coerced = {k: _coerce(k, v) for k, v in values.items()}
    coerced = {k: v for k, v in coerced.items() if v is not None or k in _SECRET_KEYS}
    settings = Settings(home=home_path, config_path=config_path, **coerced)
    _check_db_url(settings.db)  # fail early on a malformed URL
    return settings


def _check_db_url(text: str) -> None:
    # The plain forms are known good without loading SQLAlchemy (``osint case list`` stays fast).
    from osint.storage.catalog import plain_target

    if plain_target(text) is None:
        parse_db_url(text)
