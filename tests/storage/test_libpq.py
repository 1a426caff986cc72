"""The libpq read of ``case list`` (storage/libpq.py): it connects as psycopg would, or not."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from psycopg._conninfo_attempts import conninfo_attempts
from psycopg.conninfo import make_conninfo, timeout_from_conninfo

from osint.cases import create_case, list_cases
from osint.config import load_settings
from osint.errors import StoreError
from osint.storage import catalog, libpq
from osint.storage.catalog import plain_target
from osint.store import open_store, quick_case_list
from tests.casebuild import build_case

PG_VARIABLES = (
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGCONNECT_TIMEOUT",
    "PGTARGETSESSIONATTRS",
    "PGLOADBALANCEHOSTS",
    "PGGSSENCMODE",
)


@pytest.fixture(autouse=True)
def _no_pg_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PG_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def psycopg_unused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail if the case list falls back on psycopg: the libpq read must answer by itself."""

    def refuse(*_args: object) -> None:
        raise AssertionError("the libpq read fell back on psycopg")

    monkeypatch.setattr(catalog, "_read_over_psycopg", refuse)


def _with_options(url: str, extra: str) -> str:
    """``url`` with ``extra`` appended to its libpq ``options`` (the schema's search_path)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query["options"] = f"{query.get('options', '')} {extra}".strip()
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_psycopg_binary_ships_the_libpq_used() -> None:
    # psycopg[binary] is the dependency: without its libpq the fast lane would silently be off.
    path = libpq.bundled_libpq()
    assert path is not None and path.name.startswith("libpq")


@pytest.mark.parametrize(
    "params",
    [
        {"user": "postgres", "host": "127.0.0.1", "port": 5432, "dbname": "test"},
        {"password": "it's a \\ secret", "dbname": "", "options": "-csearch_path=a b"},
        {"options": "-csearch_path=case1", "sslmode": "require", "application_name": "o\tsint"},
    ],
)
def test_connection_string_is_psycopgs(params: dict[str, Any]) -> None:
    assert libpq.conninfo(params) == make_conninfo("", **params)


@pytest.mark.parametrize(
    "params",
    [
        {"host": "127.0.0.1", "port": 5432, "dbname": "test"},
        {"host": "::1", "dbname": "test"},
        {"host": "localhost", "port": 5432},
        {"host": "localhost"},
        {"host": "/var/run/postgresql"},
        {"host": "db.example", "hostaddr": "192.0.2.7"},
        {"dbname": "osint"},
    ],
)
def test_attempts_are_psycopgs(params: dict[str, Any]) -> None:
    assert libpq.attempts(params) == conninfo_attempts(params)


@pytest.mark.parametrize(
    ("params", "environ"),
    [
        ({"host": "a.example,b.example"}, {}),
        ({"host": "127.0.0.1", "port": "5432,5433"}, {}),
        ({}, {"PGHOST": "a.example,b.example"}),
        ({"host": "localhost", "load_balance_hosts": "random"}, {}),
        ({"host": "localhost", "target_session_attrs": "prefer-standby"}, {}),
        ({"host": "no-such-host.invalid"}, {}),
    ],
)
def test_several_attempts_are_left_to_psycopg(
    params: dict[str, Any], environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(libpq.NotHere):
        libpq.attempts(params)


@pytest.mark.parametrize("value", [None, "0", "-3", "1", "2", "7", "2.9"])
def test_connect_timeout_is_psycopgs(value: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    params = {} if value is None else {"connect_timeout": value}
    assert libpq.connect_timeout(params) == timeout_from_conninfo(params)
    if value is not None:  # the same from the environment
        monkeypatch.setenv("PGCONNECT_TIMEOUT", value)
        assert libpq.connect_timeout({}) == timeout_from_conninfo({})
    with pytest.raises(libpq.NotHere):
        libpq.connect_timeout({"connect_timeout": "soon"})


def test_case_list_over_libpq_whatever_the_session_settings(
    pg_url: str, tmp_path: Path, psycopg_unused: None
) -> None:
    # Times are read as UTC text, whatever the server's DateStyle and TimeZone; spaces and
    # quotes in the options go through the connection string as psycopg quotes them.
    settings = load_settings(home=tmp_path, db=pg_url, environ={})
    store = open_store(settings)
    try:
        build_case(store, settings, "gossi")
        create_case(store, "empty", title="l'été à Gossi", description="a\nb")
        full = list_cases(store)
    finally:
        store.dispose()
    odd = _with_options(pg_url, "-cTimeZone=Asia/Kolkata -cDateStyle=SQL,DMY")
    light = quick_case_list(load_settings(home=tmp_path, db=odd, environ={}))
    assert light == full
    assert full[1].title == "l'été à Gossi" and full[0].findings > 0


def test_other_client_encoding_is_left_to_psycopg(pg_url: str, tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, db=pg_url, environ={})
    store = open_store(settings)
    try:
        create_case(store, "gossí", title="Gossí, été")
        full = list_cases(store)
    finally:
        store.dispose()
    latin1 = f"{pg_url}&client_encoding=LATIN1"
    target = plain_target(latin1)
    assert target is not None
    with pytest.raises(libpq.NotHere), libpq.connect(target.connect_args):
        pass
    assert quick_case_list(load_settings(home=tmp_path, db=latin1, environ={})) == full


def test_without_the_bundled_libpq_psycopg_reads(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(home=tmp_path, db=pg_url, environ={})
    store = open_store(settings)
    try:
        create_case(store, "x", title="only psycopg")
        full = list_cases(store)
    finally:
        store.dispose()
    monkeypatch.setattr(libpq, "_loaded", [])
    monkeypatch.setenv("PSYCOPG_IMPL", "python")  # read by libpq only: psycopg is loaded already
    assert libpq.bundled_libpq() is None
    assert quick_case_list(settings) == full


def test_statement_error_means_the_full_store(pg_url: str, psycopg_unused: None) -> None:
    target = plain_target(pg_url)
    assert target is not None
    with libpq.connect(target.connect_args) as conn:
        assert conn.rows("SELECT 1, NULL::text, 'x'") == [("1", None, "x")]
        with pytest.raises(libpq.QueryFailed, match="no_such_table"):
            conn.rows("SELECT * FROM no_such_table")


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections and never answers (a hung server)."""
    with socket.create_server(("127.0.0.1", 0), backlog=8) as server:
        yield server.getsockname()[1]


def test_timeout_is_reported_once_as_psycopg_reports_it(
    silent_server: int, tmp_path: Path, psycopg_unused: None
) -> None:
    url = f"postgresql://postgres@127.0.0.1:{silent_server}/none?connect_timeout=2"
    settings = load_settings(home=tmp_path, db=url, environ={})
    with pytest.raises(StoreError) as light:
        quick_case_list(settings)  # no second wait through psycopg (psycopg_unused)
    with pytest.raises(StoreError) as full:
        open_store(settings)  # SQLAlchemy over psycopg
    assert str(light.value) == str(full.value)
    assert "connect_timeout=2: connection timeout expired (check" in str(light.value)
