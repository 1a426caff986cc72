"""The one exception tree of osint.

Every error a user can cause or meet is an ``OsintError``: its message says what went wrong and
what to do next, and ``exit_code`` is what the command line exits with. ``cli.py`` turns these into
one line on stderr at a single edge; tracebacks appear only with ``--verbose``.
"""

from __future__ import annotations


class OsintError(Exception):
    """Base of every error osint reports to a user."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(OsintError):
    """Settings that cannot be used: a malformed OSINT_DB, an unwritable OSINT_HOME, a bad config file."""


class StoreError(OsintError):
    """The case store cannot be reached or used (database down, schema from a newer osint)."""


class CaseNotFound(OsintError):
    """The named case does not exist."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"no case named {name!r}",
            hint="create it with 'osint case new NAME' or see 'osint case list'",
        )
        self.name = name


class CaseExists(OsintError):
    """A case with that name already exists."""

    def __init__(self, name: str) -> None:
        super().__init__(f"a case named {name!r} already exists", hint="choose another name")
        self.name = name


class InputError(OsintError):
    """A file or argument given by the user cannot be used (unreadable file, bad format, bad value)."""


class MediaError(OsintError):
    """A media file is missing from the media store or its bytes no longer match its hash."""


class CollectError(OsintError):
    """A collection could not go on (network down, platform refused, unexpected response)."""

    exit_code = 3


class AuthError(CollectError):
    """The platform refused our credentials, or none were configured."""


class AccountNotFound(CollectError):
    """The platform says the requested account does not exist."""


class AccountUnavailable(CollectError):
    """The account exists but cannot be collected (suspended, protected, deleted)."""

    def __init__(self, message: str, *, status: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class RateLimited(CollectError):
    """The platform's rate limit would require waiting longer than allowed."""


class ExportError(OsintError):
    """A report, bundle or WACZ could not be written safely (e.g. a secret found in its content)."""


class DiskFullError(OsintError):
    """A write found no space left on the file system; nothing partial was left under its name."""

    exit_code = 4

    def __init__(self, path: object, needed: int | None, *, hint: str | None = None) -> None:
        size = f"{needed:,} bytes needed" if needed is not None else "no space left"
        super().__init__(
            f"disk full: {size} at {path}",
            hint=hint or "free space on that file system (or write elsewhere) and run again",
        )
        self.path = path
        self.needed = needed


class TimestampError(OsintError):
    """The time-stamping authority could not be reached, refused, or answered something invalid."""

    exit_code = 3


class VerifyError(OsintError):
    """An evidence bundle failed verification."""

    exit_code = 1
