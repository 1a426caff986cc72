"""The light case list on PostgreSQL (storage/catalog.py): psycopg2 connects as the store would.

The store connects through SQLAlchemy and psycopg; the light read through psycopg2. Both must
reach the same server with the same parameters, report a dead server the same way, and never
show a password.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import psycopg2
import pytest
from psycopg.conninfo import timeout_from_conninfo

from osint.cases import create_case, list_cases
from osint.config import load_settings, parse_db_url
from osint.errors import StoreError
from osint.storage import catalog
from osint.storage.catalog import plain_target
from osint.storage.db import create_store_engine
from osint.store import open_store, quick_case_list
from tests.casebuild import build_case

SECRET = "it's a \\ s3cret-pw"


@pytest.fixture(autouse=True)
def _no_pg_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PGHOST", "PGPORT", "PGCONNECT_TIMEOUT", "PGOPTIONS", "PGTZ", "PGDATESTYLE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def psycopg_unused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail if the light read falls back on psycopg: psycopg2 must answer by itself."""

    def refuse(*_args: object) -> None:
        raise AssertionError("the light read fell back on psycopg")

    monkeypatch.setattr(catalog, "_read_over_psycopg", refuse)


def _with_query(url: str, **extra: str) -> str:
    """``url`` with ``extra`` added to its query; ``options`` are appended to the schema's."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    if "options" in extra:
        extra["options"] = f"{query.get('options', '')} {extra['options']}".strip()
    query.update(extra)
    return urlunsplit(parts._replace(query=urlencode(query)))


def _with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    user, _, host = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{user}:{quote(password, safe='')}@{host}"))


def _store_parameters(url: str) -> dict[str, Any]:
    """The libpq parameters of the store's own connection (SQLAlchemy over psycopg)."""
    engine = create_store_engine(parse_db_url(url))
    try:
        with engine.connect() as conn:
            info = conn.connection.dbapi_connection.info  # type: ignore[union-attr]
            return {**info.get_parameters(), "password": info.password}
    finally:
        engine.dispose()


def _light_parameters(url: str) -> dict[str, Any]:
    """The libpq parameters of the light read's connection (psycopg2)."""
    target = plain_target(url)
    assert target is not None
    conn = catalog._connect_psycopg2(psycopg2, target.connect_args)
    try:
        return {**conn.get_dsn_parameters(), "password": conn.info.password}
    finally:
        conn.close()


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"sslmode": "disable", "application_name": "o\tsint l'été"},
        {"connect_timeout": "7", "options": "-cwork_mem=8MB"},
    ],
)
def test_psycopg2_connects_with_the_stores_parameters(pg_url: str, extra: dict[str, str]) -> None:
    url = _with_password(_with_query(pg_url, **extra), SECRET)  # trust auth: any password
    store = _store_parameters(url)
    light = _light_parameters(url)
    assert store["password"] == light["password"] == SECRET
    # psycopg lists the parameters set to other than libpq's defaults; it resolves the host to
    # hostaddr and enforces the timeout itself.
    compared = set(store) - {"hostaddr", "connect_timeout"}
    assert {"user", "dbname", "host", "options"} <= compared
    assert light["port"] == str(urlsplit(url).port or 5432) == store.get("port", "5432")
    assert {k: light.get(k) for k in compared} == {k: store[k] for k in compared}
    assert light["connect_timeout"] == str(
        timeout_from_conninfo(dict(parse_qsl(urlsplit(url).query)))
    )


@pytest.mark.parametrize("value", [None, "0", "-3", "1", "2", "7", "2.9"])
def test_connect_timeout_is_psycopgs(value: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    params = {} if value is None else {"connect_timeout": value}
    assert catalog.connect_timeout(params) == timeout_from_conninfo(params)
    if value is not None:  # the same from the environment
        monkeypatch.setenv("PGCONNECT_TIMEOUT", value)
        assert catalog.connect_timeout({}) == timeout_from_conninfo({})
        assert catalog.connect_timeout({"connect_timeout": "9"}) == 9  # the URL wins
    with pytest.raises(ValueError, match="soon"):
        catalog.connect_timeout({"connect_timeout": "soon"})


def test_case_list_over_psycopg2_whatever_the_session_settings(
    pg_url: str, tmp_path: Path, psycopg_unused: None
) -> None:
    # Times come back as UTC, whatever the server's DateStyle and TimeZone; spaces and quotes in
    # the options reach the server as the store's psycopg sends them.
    settings = load_settings(home=tmp_path, db=pg_url, environ={})
    store = open_store(settings)
    try:
        build_case(store, settings, "gossi")
        create_case(store, "empty", title="l'été à Gossi", description="a\nb")
        full = list_cases(store)
    finally:
        store.dispose()
    odd = _with_query(pg_url, options="-cTimeZone=Asia/Kolkata -cDateStyle=SQL,DMY")
    light = quick_case_list(load_settings(home=tmp_path, db=odd, environ={}))
    assert light == full
    assert full[1].title == "l'été à Gossi" and full[0].findings > 0


def test_other_client_encoding_reads_the_same(
    pg_url: str, tmp_path: Path, psycopg_unused: None
) -> None:
    settings = load_settings(home=tmp_path, db=pg_url, environ={})
    store = open_store(settings)
    try:
        create_case(store, "gossí", title="Gossí, été")
        full = list_cases(store)
    finally:
        store.dispose()
    latin1 = _with_query(pg_url, client_encoding="LATIN1")
    assert quick_case_list(load_settings(home=tmp_path, db=latin1, environ={})) == full


def test_without_psycopg2_psycopg_reads(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(home=tmp_path, db=pg_url, environ={})
    store = open_store(settings)
    try:
        create_case(store, "x", title="only psycopg")
        full = list_cases(store)
    finally:
        store.dispose()
    monkeypatch.setitem(sys.modules, "psycopg2", None)  # `import psycopg2` raises ImportError
    used: list[object] = []
    read_over_psycopg = catalog._read_over_psycopg
    monkeypatch.setattr(
        catalog, "_read_over_psycopg", lambda *a: used.append(a) or read_over_psycopg(*a)
    )
    assert quick_case_list(settings) == full
    assert len(used) == 1


def test_failing_statement_or_unknown_option_means_the_full_store(
    pg_url: str, tmp_path: Path
) -> None:
    settings = load_settings(home=tmp_path, db=pg_url, environ={})
    store = open_store(settings)
    try:
        create_case(store, "x")
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE findings RENAME TO findings_elsewhere")
        assert quick_case_list(settings) is None  # at head, but the statement fails
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE findings_elsewhere RENAME TO findings")
    finally:
        store.dispose()
    assert quick_case_list(settings) is not None
    unknown = _with_query(pg_url, no_such_option="1")  # neither libpq knows it
    assert quick_case_list(load_settings(home=tmp_path, db=unknown, environ={})) is None


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections and never answers (a hung server)."""
    with socket.create_server(("127.0.0.1", 0), backlog=8) as server:
        yield server.getsockname()[1]


def test_timeout_is_reported_once_as_the_store_reports_it(
    silent_server: int, tmp_path: Path, psycopg_unused: None
) -> None:
    url = f"postgresql://postgres@127.0.0.1:{silent_server}/none?connect_timeout=2"
    settings = load_settings(home=tmp_path, db=url, environ={})
    started = time.monotonic()
    with pytest.raises(StoreError) as light:
        quick_case_list(settings)  # no second wait through psycopg (psycopg_unused)
    assert 1.5 < time.monotonic() - started < 4
    with pytest.raises(StoreError) as full:
        open_store(settings)  # SQLAlchemy over psycopg
    assert str(light.value) == str(full.value)
    assert "connect_timeout=2: connection timeout expired (check" in str(light.value)


def test_ctrl_c_stops_a_connection_waiting_on_a_hung_server(
    silent_server: int, tmp_path: Path
) -> None:
    url = f"postgresql://postgres@127.0.0.1:{silent_server}/none?connect_timeout=60"
    cmd = [sys.executable, "-m", "osint", "--home", str(tmp_path), "--db", url, "case", "list"]
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2)  # into the connection's wait
    started = time.monotonic()
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=30)
    assert time.monotonic() - started < 5  # not the 60 s of connect_timeout
    assert child.returncode == 130 and "aborted" in err


@pytest.mark.parametrize("hung", [False, True])
def test_the_password_is_never_shown(hung: bool, silent_server: int, tmp_path: Path) -> None:
    port = silent_server if hung else 1  # a hung server, or nothing listening
    url = f"postgresql://postgres:{quote(SECRET, safe='')}@127.0.0.1:{port}/none?connect_timeout=2"
    cmd = [sys.executable, "-m", "osint", "--verbose", "--home", str(tmp_path), "--db", url]
    result = subprocess.run([*cmd, "case", "list"], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "cannot open the database postgresql+psycopg://postgres:***@127.0.0.1" in result.stderr
    for shown in (SECRET, quote(SECRET, safe=""), "s3cret"):
        assert shown not in result.stdout + result.stderr
