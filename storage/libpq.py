"""A short read over libpq itself: ``osint case list`` on PostgreSQL without importing psycopg.

Importing psycopg costs about 90 ms (its type adapters, typing_extensions, inspect...), more than
the rest of ``case list``. This module loads, with ctypes, the very libpq that psycopg[binary]
bundles and would use, and connects the way ``psycopg.connect`` does: the same connection string
(quoted as ``psycopg.conninfo.make_conninfo`` quotes it), one attempt per host address, tried in
``getaddrinfo`` order, psycopg's timeout (``connect_timeout``, default 130 s, at least 2 s), a
transaction opened before the first statement. libpq itself reads ``PG*`` variables, ``.pgpass``,
service files, SSL and GSSAPI settings, exactly as under psycopg.

It covers only what it can do as psycopg would; anything else raises :class:`NotHere` and the
caller asks psycopg (which then connects, or fails, and says why in its own words): no such
bundled libpq (psycopg-c, a pure-Python psycopg, another platform's layout), several hosts or a
load-balancing setting, a host that does not resolve, a refused or failed connection, a client
encoding other than UTF-8, a connection that fell back on GSSAPI (psycopg warns about it). A
connection that times out raises :class:`ConnectTimeout`, so a dead server is not waited for
twice. Values come back as text: callers choose SQL whose text output does not depend on the
session's settings (``to_char`` for times).
"""

from __future__ import annotations

import ctypes
import os
import re
import selectors
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from importlib.util import find_spec
from ipaddress import ip_address
from pathlib import Path
from typing import Any

DEFAULT_CONNECT_TIMEOUT = 130  # psycopg.conninfo._DEFAULT_CONNECT_TIMEOUT
_WAIT_INTERVAL = 0.1  # as psycopg: the wait wakes up this often (Ctrl-C, the deadline)
_CONNECTION_BAD = 1
_POLLING_FAILED, _POLLING_READING, _POLLING_WRITING, _POLLING_OK = 0, 1, 2, 3
_COMMAND_OK, _TUPLES_OK = 1, 2
_ESCAPE = re.compile(r"([\\'])")
_SPACE = re.compile(r"\s")

Row = tuple[str | None, ...]


class NotHere(Exception):
    """This read cannot be done exactly as psycopg would do it: ask psycopg."""


class ConnectTimeout(Exception):
    """No attempt connected within the timeout (psycopg: "connection timeout expired")."""


class QueryFailed(Exception):
    """A statement failed (a missing table, a lost connection); ``args[0]`` is libpq's message."""


_NOTICE_PROCESSOR = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p)
_QUIET = _NOTICE_PROCESSOR(lambda _arg, _message: None)  # psycopg logs notices, never prints
_loaded: list[ctypes.CDLL] = []


def bundled_libpq() -> Path | None:
    """The libpq psycopg would use, when it is the one psycopg[binary] ships; None otherwise."""
    if os.environ.get("PSYCOPG_IMPL", "").lower() not in ("", "binary"):
        return None
    if find_spec("psycopg_c") is not None:  # psycopg prefers it, linked to the system's libpq
        return None
    spec = find_spec("psycopg_binary")
    if spec is None or not spec.origin:
        return None
    package = Path(spec.origin).parent
    found = [
        *package.parent.glob("psycopg_binary.libs/libpq-*.so*"),  # Linux wheels (auditwheel)
        *package.glob(".dylibs/libpq*.dylib"),  # macOS wheels (delocate)
    ]
    return found[0] if len(found) == 1 else None


def _lib() -> ctypes.CDLL:
    if _loaded:
        return _loaded[0]
    path = bundled_libpq()
    if path is None:
        raise NotHere("no bundled libpq")
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as exc:
        raise NotHere(str(exc)) from exc
    p, s, i = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
    for name, restype, argtypes in (
        ("PQconnectStart", p, [s]),
        ("PQconnectPoll", i, [p]),
        ("PQstatus", i, [p]),
        ("PQsocket", i, [p]),
        ("PQerrorMessage", s, [p]),
        ("PQparameterStatus", s, [p, s]),
        ("PQsetNoticeProcessor", p, [p, _NOTICE_PROCESSOR, p]),
        ("PQfinish", None, [p]),
        ("PQexec", p, [p, s]),
        ("PQresultStatus", i, [p]),
        ("PQresultErrorMessage", s, [p]),
        ("PQntuples", i, [p]),
        ("PQnfields", i, [p]),
        ("PQgetisnull", i, [p, i, i]),
        ("PQgetvalue", s, [p, i, i]),
        ("PQclear", None, [p]),
    ):
        func = getattr(lib, name)
        func.restype, func.argtypes = restype, argtypes
    if hasattr(lib, "PQconnectionUsedGSSAPI"):  # libpq 16 and later, as psycopg checks
        lib.PQconnectionUsedGSSAPI.restype, lib.PQconnectionUsedGSSAPI.argtypes = i, [p]
    _loaded.append(lib)
    return lib


def _param(params: Mapping[str, Any], name: str, envvar: str) -> str | None:
    # As psycopg._conninfo_utils.get_param: the parameter, else its PG* variable.
    if name in params:
        return str(params[name])
    return os.environ.get(envvar)


def connect_timeout(params: Mapping[str, Any]) -> int:
    """The seconds psycopg allows each attempt (``psycopg.conninfo.timeout_from_conninfo``)."""
    value = _param(params, "connect_timeout", "PGCONNECT_TIMEOUT")
    if value is None:
        return DEFAULT_CONNECT_TIMEOUT
    try:
        timeout = int(float(value))
    except ValueError as exc:
        raise NotHere(f"bad value for connect_timeout: {value!r}") from exc
    if timeout <= 0:
        return DEFAULT_CONNECT_TIMEOUT
    return max(timeout, 2)


def attempts(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The connections psycopg would try, in order (``psycopg._conninfo_attempts``), when the
    parameters name one host; several hosts or load balancing: :class:`NotHere`."""
    host = _param(params, "host", "PGHOST")
    hostaddr = _param(params, "hostaddr", "PGHOSTADDR")
    port = _param(params, "port", "PGPORT")
    if any("," in value for value in (host, hostaddr, port) if value):
        raise NotHere("several hosts")
    if _param(params, "target_session_attrs", "PGTARGETSESSIONATTRS") == "prefer-standby":
        raise NotHere("prefer-standby")
    if _param(params, "load_balance_hosts", "PGLOADBALANCEHOSTS") == "random":
        raise NotHere("load balancing")
    if not host or host.startswith("/") or host[1:2] == ":" or hostaddr:
        return [dict(params)]  # a socket folder, no host, or an address already given
    try:
        ip_address(host)
    except ValueError:
        pass
    else:
        return [{**params, "hostaddr": host}]
    import socket  # only for a host name

    try:
        found = socket.getaddrinfo(
            host, port or "5432", proto=socket.IPPROTO_TCP, type=socket.SOCK_STREAM
        )
    except OSError as exc:
        raise NotHere(f"cannot resolve {host!r}") from exc
    return [{**params, "hostaddr": item[4][0]} for item in found]


def conninfo(params: Mapping[str, Any]) -> str:
    """The connection string ``psycopg.conninfo.make_conninfo("", **params)`` makes."""
    return " ".join(f"{key}={_escape(str(value))}" for key, value in params.items())


def _escape(value: str) -> str:
    if not value:
        return "''"
    value = _ESCAPE.sub(r"\\\1", value)
    return f"'{value}'" if _SPACE.search(value) else value


class Connection:
    """An open libpq connection, inside a transaction, answering statements as text rows."""

    def __init__(self, lib: ctypes.CDLL, pgconn: int) -> None:
        self._lib, self._pgconn = lib, pgconn

    def rows(self, sql: str) -> list[Row]:
        lib = self._lib
        result = lib.PQexec(self._pgconn, sql.encode())
        if not result:
            raise QueryFailed(_text(lib.PQerrorMessage(self._pgconn)))
        try:
            status = lib.PQresultStatus(result)
            if status not in (_COMMAND_OK, _TUPLES_OK):
                raise QueryFailed(_text(lib.PQresultErrorMessage(result)))
            return [
                tuple(
                    None if lib.PQgetisnull(result, r, c) else lib.PQgetvalue(result, r, c).decode()
                    for c in range(lib.PQnfields(result))
                )
                for r in range(lib.PQntuples(result))
            ]
        finally:
            lib.PQclear(result)


@contextmanager
def connect(params: Mapping[str, Any]) -> Iterator[Connection]:
    """A connection as ``psycopg.connect(**params)`` makes it, closed on leaving."""
    lib = _lib()
    pgconn = _first_connection(lib, attempts(params), connect_timeout(params))
    try:
        lib.PQsetNoticeProcessor(pgconn, _QUIET, None)
        if lib.PQparameterStatus(pgconn, b"client_encoding") != b"UTF8":
            raise NotHere("client encoding")
        if _used_gssapi_unasked(lib, pgconn, params):
            raise NotHere("GSSAPI")
        conn = Connection(lib, pgconn)
        conn.rows("BEGIN")  # psycopg without autocommit opens a transaction before a statement
        yield conn
    finally:
        lib.PQfinish(pgconn)  # the server rolls the read-only transaction back


def _used_gssapi_unasked(lib: ctypes.CDLL, pgconn: int, params: Mapping[str, Any]) -> bool:
    if not hasattr(lib, "PQconnectionUsedGSSAPI"):
        return False
    used = lib.PQconnectionUsedGSSAPI(pgconn) == 1
    return used and not _param(params, "gssencmode", "PGGSSENCMODE")


def _first_connection(lib: ctypes.CDLL, tries: Sequence[Mapping[str, Any]], timeout: int) -> int:
    timed_out = False
    for attempt in tries:
        pgconn = lib.PQconnectStart(conninfo(attempt).encode())
        if not pgconn:
            raise NotHere("libpq could not start a connection")
        try:
            outcome = _poll(lib, pgconn, time.monotonic() + timeout)
        except BaseException:
            lib.PQfinish(pgconn)
            raise
        if outcome == _POLLING_OK:
            return int(pgconn)
        lib.PQfinish(pgconn)
        timed_out = outcome is None
    if timed_out:  # psycopg's first line names the last attempt's failure
        raise ConnectTimeout("connection timeout expired")
    raise NotHere("connection failed")  # psycopg connects again and says why, in its words


def _poll(lib: ctypes.CDLL, pgconn: int, deadline: float) -> int | None:
    """``_POLLING_OK``, ``_POLLING_FAILED``, or None past the deadline (psycopg's wait_conn)."""
    with selectors.DefaultSelector() as selector:
        while True:
            if lib.PQstatus(pgconn) == _CONNECTION_BAD:
                return _POLLING_FAILED
            status = lib.PQconnectPoll(pgconn)
            if status in (_POLLING_OK, _POLLING_FAILED):
                return int(status)
            if status not in (_POLLING_READING, _POLLING_WRITING):
                return _POLLING_FAILED
            events = selectors.EVENT_READ if status == _POLLING_READING else selectors.EVENT_WRITE
            fd = lib.PQsocket(pgconn)
            if fd < 0:
                return _POLLING_FAILED
            selector.register(fd, events)
            try:
                if not _wait(selector, deadline):
                    return None
            finally:
                selector.unregister(fd)


def _wait(selector: selectors.BaseSelector, deadline: float) -> bool:
    """Until the socket is ready (True) or the deadline passes (False), waking up regularly."""
    while True:
        ready = selector.select(max(0.0, min(_WAIT_INTERVAL, deadline - time.monotonic())))
        if time.monotonic() >= deadline:
            return False
        if ready:
            return True


def _text(message: bytes | None) -> str:
    return message.decode("utf-8", "replace").strip() if message else ""
