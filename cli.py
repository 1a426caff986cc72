"""The osint command line: parse options, call the services in ``osint/``, print the results.

Nothing here decides anything: errors from the services (``osint.errors.OsintError``) become one
line on stderr and a non-zero exit code, at the single edge in :func:`main`.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

import osint
from osint import defaults
from osint.defaults import POST_EXPORT_FORMATS as FORMATS
from osint.errors import CollectError, OsintError, VerifyError
from osint.monitor.options import JobOptions

# Service modules are imported inside the commands that use them, so that `osint --help` and
# `osint case list` load only what they need (tests/test_startup.py guards it).
if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress as RichBar
    from rich.progress import TaskID

    from osint import imports
    from osint.analysis import coordination_pass as analysis_coordination
    from osint.analysis import images_pass as image_analysis
    from osint.analysis import timeline_pass as analysis_timeline
    from osint.analysis.coordination_pass import CoordinationOptions
    from osint.collect import CollectSummary
    from osint.config import Settings
    from osint.storage.db import Store


class _LazyConsole:
    """A rich Console made on first use: importing rich costs as much as click's whole start."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def _real(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real(), name)

    def __enter__(self) -> Console:  # rich's Live holds its console as a context manager
        return self._real().__enter__()

    def __exit__(self, *exc: Any) -> None:
        self._real().__exit__(*exc)


if TYPE_CHECKING:
    console: Console
    err_console: Console
else:
    console = _LazyConsole(highlight=False, soft_wrap=True)
    err_console = _LazyConsole(stderr=True, highlight=False, soft_wrap=True)


@dataclass
class AppContext:
    home: str | None
    db: str | None
    verbose: bool
    _settings: Settings | None = None
    _store: Store | None = None
    _closers: list[Any] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from osint.config import load_settings

            self._settings = load_settings(home=self.home, db=self.db)
        return self._settings

    @property
    def store(self) -> Store:
        if self._store is None:
            from osint.store import open_store

            self._store = open_store(self.settings)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.dispose()


pass_app = click.make_pass_decorator(AppContext)


# -- options shared by several commands --------------------------------------------------
F = TypeVar("F", bound=Callable[..., Any])


def _case_option(purpose: str) -> Callable[[F], F]:
    """``--case NAME``, required: the case the command works on ("Case to {purpose}.")."""
    return click.option("--case", "case_name", required=True, help=f"Case to {purpose}.")


def _output_option(
    help_text: str = "File (default: stdout).",
    *,
    names: tuple[str, ...] = ("-o", "--output"),
    required: bool = False,
) -> Callable[[F], F]:
    """``-o/--output FILE``; stdout when it is left out or '-' (see ``osint.writers``)."""
    return click.option(
        *names, "output", type=click.Path(path_type=Path), required=required, help=help_text
    )


def _export_options(formats: Iterable[str], default: str) -> Callable[[F], F]:
    """``--case``, ``--format`` (one of ``formats``) and ``-o/--output`` of a table export."""
    fmt = click.option(
        "--format", "fmt", type=click.Choice(list(formats)), default=default, show_default=True
    )

    def apply(command: F) -> F:
        return _case_option("export")(fmt(_output_option()(command)))

    return apply


class TerminalProgress:
    """Progress for the services: a rich bar on a terminal, plain lines otherwise."""

    def __init__(self, *, interval: float = 5.0) -> None:
        self.live = err_console.is_terminal
        self.interval = interval
        self._bar: RichBar | None = None
        self._tasks: dict[str, TaskID] = {}
        self._counts: dict[str, int] = {}
        self._last_print = 0.0

    def __enter__(self) -> TerminalProgress:
        if self.live:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichBar

            self._bar = RichBar(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err_console,
                transient=True,
            )
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
        elif self._counts:
            self._print_counts()

    def update(self, stage: str, *, advance: int = 0, total: int | None = None) -> None:
        self._counts[stage] = self._counts.get(stage, 0) + advance
        if self._bar is not None:
            if stage not in self._tasks:
                self._tasks[stage] = self._bar.add_task(stage, total=total)
            self._bar.update(self._tasks[stage], advance=advance, total=total)
        elif time.monotonic() - self._last_print >= self.interval:
            self._print_counts()

    def _print_counts(self) -> None:
        self._last_print = time.monotonic()
        err_console.print("progress: " + ", ".join(f"{k} {v:,}" for k, v in self._counts.items()))

    def log(self, message: str) -> None:
        err_console.print(f"warning: {message}", markup=False)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (a test runner swaps it per command)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(verbose: bool) -> None:
    """The one place logging is set up: osint's warnings always, its info and debug lines with
    ``--verbose``. Other libraries stay at their defaults (their debug lines may carry
    request headers). Modules only call ``logging.getLogger(__name__)``."""
    package = logging.getLogger("osint")
    package.setLevel(logging.DEBUG if verbose else logging.WARNING)
    if not any(isinstance(h, _StderrHandler) for h in package.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        package.addHandler(handler)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(osint.__version__, "--version", prog_name="osint")
@click.option("--home", envvar=None, help="Data folder (overrides OSINT_HOME).")
@click.option("--db", "db", envvar=None, help="SQLAlchemy database URL (overrides OSINT_DB).")
@click.option(
    "-v", "--verbose", is_flag=True, help="Show tracebacks on errors and osint's debug log."
)
@click.pass_context
def cli(ctx: click.Context, home: str | None, db: str | None, verbose: bool) -> None:
    """Archive social-media accounts as evidence and flag coordinated inauthentic behaviour.

    Example: osint demo
    """
    configure_logging(verbose)
    app = AppContext(home=home, db=db, verbose=verbose)
    ctx.obj = app
    ctx.call_on_close(app.close)


# -- case ----------------------------------------------------------------------------------
@cli.group()
def case() -> None:
    """Create and inspect cases.

    Example: osint case new mali-2022 --title "Gossi grave"
    """


@case.command("new")
@click.argument("name")
@click.option("--title", help="A human title.")
@click.option("--description", help="What the case is about.")
@pass_app
def case_new(app: AppContext, name: str, title: str | None, description: str | None) -> None:
    """Create a case.

    Example: osint case new mali-2022 --title "Gossi grave"
    """
    from osint import cases

    summary = cases.create_case(app.store, name, title=title, description=description)
    console.print(f"created case {summary.name}", markup=False)


@case.command("list")
@pass_app
def case_list(app: AppContext) -> None:
    """List the cases in the store.

    Example: osint case list
    """
    from rich.table import Table

    from osint.store import quick_case_list

    rows = quick_case_list(app.settings)  # over the driver alone when the database is ready
    if rows is None:
        from osint import cases

        rows = cases.list_cases(app.store)
    if not rows:
        console.print("no cases yet: create one with 'osint case new NAME'", markup=False)
        return
    table = Table("name", "title", "created", "accounts", "posts", "media", "findings")
    for c in rows:
        table.add_row(
            c.name,
            c.title or "",
            f"{c.created_at:%Y-%m-%d %H:%M}",
            f"{c.accounts:,}",
            f"{c.posts:,}",
            f"{c.media:,}",
            f"{c.findings:,}",
        )
    console.print(table)


@case.command("show")
@click.argument("name")
@pass_app
def case_show(app: AppContext, name: str) -> None:
    """Show a case and what it holds.

    Example: osint case show mali-2022
    """
    from osint import cases

    c = cases.case_summary(app.store, name)
    for label, value in (
        ("name", c.name),
        ("title", c.title or ""),
        ("description", c.description or ""),
        ("created", c.created_at.isoformat()),
        ("accounts", f"{c.accounts:,}"),
        ("posts", f"{c.posts:,}"),
        ("media", f"{c.media:,}"),
        ("  failed", f"{c.media_failed:,} (tried again by the next run of the same command)"),
        ("  pending", f"{c.media_pending:,} (not tried yet: fetched by the next run)"),
        ("findings", f"{c.findings:,}"),
    ):
        console.print(f"{label:<12} {value}", markup=False)


# -- db ------------------------------------------------------------------------------------
@cli.group()
def db() -> None:
    """Manage the case store's database.

    Example: osint db upgrade
    """


@db.command("upgrade")
@pass_app
def db_upgrade(app: AppContext) -> None:
    """Apply pending schema migrations (also done automatically on first use).

    Example: osint --db postgresql://postgres@127.0.0.1/osint db upgrade
    """
    store = app.store
    url = store.engine.url.render_as_string(hide_password=True)
    console.print(f"database {url} is at the latest schema", markup=False)


# -- import --------------------------------------------------------------------------------
class _ImportGroup(click.Group):
    """``osint import FORMAT FILE``, and ``osint import FILE``: a first word naming no format
    is a file, imported by the hidden ``file`` command with the format found in it."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            return "file", self.commands["file"], args
        return super().resolve_command(ctx, args)


@cli.group(name="import", cls=_ImportGroup)
def import_() -> None:
    """Import data you already hold into a case.

    osint import FILE... --case C recognises each file's format by its content and says which
    it chose; osint import FORMAT FILE forces one. Formats: x-io (X's information-operations
    archive: tweets and users files, split parts, .gz or .zip), crowdtangle (Facebook and
    Instagram CSV), zeeschuimer (X and TikTok NDJSON), 4cat-telegram (4CAT's Telegram CSV),
    twarc, telegram-export, shares.

    Example: osint import china_052020_tweets_csv_hashed_1.csv --case china-2020
    """


def _print_import(summary: imports.ImportSummary) -> None:
    files = f"{summary.media_files:,} media files, " if summary.media_files else ""
    repeated = (
        f"{summary.posts_repeated:,} repeated within the file, " if summary.posts_repeated else ""
    )
    notes = f"; {summary.note_count:,} imported in part (see above)" if summary.note_count else ""
    if summary.referenced_new:
        notes += (
            f"; {summary.referenced_new:,} posts they reposted, quoted or replied to stored as "
            "seen through a reference"
        )
    console.print(
        f"imported {summary.rows:,} rows from {summary.path} into case {summary.case}: "
        f"{summary.posts_new:,} new posts, {summary.posts_known:,} already known, {repeated}"
        f"{files}{summary.problem_count:,} problems{notes} (sha256 {summary.sha256})",
        markup=False,
    )


@import_.command("shares")
@click.argument("file", type=click.Path(path_type=Path))
@_case_option("import into")
@click.option(
    "--platform",
    default="imported",
    show_default=True,
    help="Platform name to file the accounts and posts under.",
)
@click.option(
    "--modality",
    default="object",
    show_default=True,
    help="What object_id holds: repost, url, hashtag, image, text or object.",
)
@pass_app
def import_shares(
    app: AppContext, file: Path, case_name: str, platform: str, modality: str
) -> None:
    """Import a coordination-research "shares" CSV (CooRTweet's long format).

    Columns: object_id, account_id, content_id, timestamp_share (Unix seconds); or the
    multi-modal account_id, post_id, url_id, hashtag_id, domain_id, phash_id, timestamp.

    Example: osint import shares russian_coord_tweets.csv --case ru --modality repost
    """
    from osint import imports

    with TerminalProgress() as progress:
        summary = imports.import_shares(
            app.store,
            app.settings,
            case=case_name,
            path=file,
            platform=platform,
            modality=modality,
            progress=progress,
        )
    _print_import(summary)


@import_.command("telegram-export")
@click.argument("export", type=click.Path(path_type=Path))
@_case_option("import into")
@pass_app
def import_telegram_export(app: AppContext, export: Path, case_name: str) -> None:
    """Import a Telegram Desktop JSON export: its folder (or its result.json) and photos.

    Messages become posts (forwards as reposts, replies as replies), with their links, hashtags
    and mentions; the photos and files of the export go into the media store.

    Example: osint import telegram-export ChatExport_2022-04-21 --case mali-2022
    """
    from osint import imports

    with TerminalProgress() as progress:
        summary = imports.import_telegram_export(
            app.store, app.settings, case=case_name, path=export, progress=progress
        )
    _print_import(summary)


@import_.command("twarc")
@click.argument("file", type=click.Path(path_type=Path))
@_case_option("import into")
@pass_app
def import_twarc(app: AppContext, file: Path, case_name: str) -> None:
    """Import twarc2 JSONL: API response pages, or the output of `twarc2 flatten`.

    Tweets, retweets, quotes and replies, their authors, links, hashtags, mentions and media
    URLs go into the case as X posts; lines that cannot be read are reported with their number.

    Example: osint import twarc timeline.jsonl --case mali-2022
    """
    from osint import imports

    with TerminalProgress() as progress:
        summary = imports.import_twarc(
            app.store, app.settings, case=case_name, path=file, progress=progress
        )
    _print_import(summary)


def _print_notes(summary: imports.ImportSummary) -> None:
    if summary.profiles:
        console.print(
            f"  {summary.profiles:,} profile rows, {summary.snapshots_new:,} new profile snapshots",
            markup=False,
        )
    for note in summary.notes:
        err_console.print(f"note: {note}", markup=False)


def _import_files(
    app: AppContext, fmt: str | None, files: tuple[Path, ...], case_name: str, **options: Any
) -> None:
    """Import each file (format found in it when ``fmt`` is None); fail after all if one did."""
    from osint import import_datasets

    failed = 0
    for file in files:
        try:
            chosen = fmt
            if chosen is None:
                chosen, detail, evidence = import_datasets.detect_format(file)
                err_console.print(
                    f"{file}: {detail} ({chosen}), recognised by {evidence}", markup=False
                )
            wanted = import_datasets.OPTIONS.get(chosen, ())
            with TerminalProgress() as progress:
                summary = import_datasets.import_any(
                    app.store, app.settings, case=case_name, path=file, format=chosen,
                    progress=progress, **{k: v for k, v in options.items() if k in wanted},
                )  # fmt: skip
        except OsintError as exc:
            if len(files) == 1:
                raise
            failed += 1
            err_console.print(f"error: {file}: {exc}", markup=False)
            continue
        _print_import(summary)
        _print_notes(summary)
    if failed:
        raise click.ClickException(f"{failed} of {len(files)} files could not be imported")


def _dataset_options(command: Any) -> Any:
    command = _case_option("import into")(command)
    return click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))(
        command
    )


def _archive_options(command: Any) -> Any:
    command = click.option(
        "--tweet-time-only", is_flag=True,
        help="Keep tweet_time's minute even where the tweet id encodes the exact time.",
    )(command)  # fmt: skip
    return click.option(
        "--release",
        help="The release's name (china_052020) when the file name does not say it.",
    )(command)


@import_.command("file", hidden=True)
@_dataset_options
@_archive_options
@pass_app
def import_file(
    app: AppContext, files: tuple[Path, ...], case_name: str, release: str | None,
    tweet_time_only: bool,
) -> None:  # fmt: skip
    """Import files of any known format, recognised by their content.

    Example: osint import russia_201901_1_tweets_csv_hashed.csv --case ira
    """
    _import_files(app, None, files, case_name, release=release, exact_times=not tweet_time_only)


@import_.command("x-io")
@_dataset_options
@_archive_options
@pass_app
def import_x_io(
    app: AppContext, files: tuple[Path, ...], case_name: str, release: str | None,
    tweet_time_only: bool,
) -> None:  # fmt: skip
    """Import X's information-operations archive: tweets and users files of a release.

    Give every part of a split release (_1, _2, ...) and its users file; .csv, .csv.gz and
    .zip are read as they are. Accounts are kept per release (<release>:<userid>), since hashed
    ids mean nothing across releases; tweet times come from the tweet ids where they agree with
    tweet_time (which is to the minute).

    Example: osint import x-io china_052020_tweets_csv_hashed_1.csv china_052020_users_csv_hashed.csv --case china-2020
    """
    _import_files(app, "x-io", files, case_name, release=release, exact_times=not tweet_time_only)


@import_.command("crowdtangle")
@_dataset_options
@pass_app
def import_crowdtangle(app: AppContext, files: tuple[Path, ...], case_name: str) -> None:
    """Import CrowdTangle CSV exports: Facebook pages and groups, or Instagram accounts.

    Links and the text CrowdTangle read in images become objects pages share; times carry the
    export's time zone (EST, CET, ...) and are stored in UTC.

    Example: osint import crowdtangle 2022-04-21-15-02-51-CEST-Historical-Report.csv --case mali-2022
    """
    _import_files(app, "crowdtangle", files, case_name)


@import_.command("zeeschuimer")
@_dataset_options
@pass_app
def import_zeeschuimer(app: AppContext, files: tuple[Path, ...], case_name: str) -> None:
    """Import Zeeschuimer NDJSON: the X and TikTok items your browser captured.

    Example: osint import zeeschuimer zeeschuimer-export-twitter.com-2022-04-21.ndjson --case mali-2022
    """
    _import_files(app, "zeeschuimer", files, case_name)


@import_.command("4cat-telegram")
@_dataset_options
@pass_app
def import_4cat_telegram(app: AppContext, files: tuple[Path, ...], case_name: str) -> None:
    """Import 4CAT's CSV of a Telegram dataset (times from its unix_* columns, which are UTC).

    Example: osint import 4cat-telegram telegram-dia-diarra.csv --case mali-2022
    """
    _import_files(app, "4cat-telegram", files, case_name)


# -- collect -------------------------------------------------------------------------------
@cli.group()
def collect() -> None:
    """Archive an account's posts, profile and images into a case, as evidence.

    Every response is kept raw in a WARC file under the case's folder; a second run fetches
    only what is new; a run that was interrupted resumes where it stopped.

    Example: osint collect x dia_diarra --case mali-2022
    """


def _date(end_of_day: bool) -> Any:
    def convert(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
        if value is None:
            return None
        from osint.collect import parse_date

        try:
            return parse_date(value, end_of_day=end_of_day)
        except OsintError as exc:
            raise click.BadParameter(str(exc)) from exc

    return convert


def _window_options(command: Any) -> Any:
    command = click.option(
        "--full",
        is_flag=True,
        help="Re-read the whole timeline, not only what is new (finds edits of older posts).",
    )(command)
    command = click.option(
        "--limit", type=click.IntRange(min=1), help="Stop after this many posts."
    )(command)
    command = click.option(
        "--until", callback=_date(True), help="Only posts before the end of DATE (UTC)."
    )(command)
    command = click.option(
        "--since", callback=_date(False), help="Only posts from DATE on (YYYY-MM-DD, UTC)."
    )(command)
    return _case_option("collect into")(command)


def _run_collect(
    app: AppContext,
    platform: str,
    target: str,
    case_name: str,
    *,
    settings: Settings | None = None,
    **window: Any,
) -> None:
    """Run the engine for one platform command (``settings`` for per-command overrides)."""
    from osint.collect import collect_account

    with TerminalProgress() as progress:
        summary = collect_account(
            app.store,
            settings or app.settings,
            platform=platform,
            target=target,
            case=case_name,
            progress=progress,
            **window,
        )
    _print_collect(summary)


def _print_collect(s: CollectSummary) -> None:
    resumed = ", resumed" if s.resumed else ""
    snapshot = "changed: new snapshot" if s.snapshot_created else "unchanged"
    console.print(
        f"collected {s.platform}:@{s.handle or s.target} into case {s.case} (run {s.run_id}"
        f"{resumed}): {s.posts_new:,} new posts, {s.posts_edited:,} edited, "
        f"{s.posts_unchanged:,} already known, in {s.pages:,} pages; media {s.media_downloaded:,} "
        f"downloaded, {s.media_reused:,} already held, {s.media_failed:,} failed, "
        f"{s.media_flagged:,} flagged; profile {snapshot}; {len(s.problems):,} problems",
        markup=False,
    )
    if s.warc_file:
        console.print(f"raw responses: {s.warc_file} (under OSINT_HOME)", markup=False)


@collect.command("x")
@click.argument("username")
@_window_options
@pass_app
def collect_x(app: AppContext, username: str, case_name: str, **window: Any) -> None:
    """Collect an X account through the X API v2.

    Needs a bearer token in OSINT_X_BEARER_TOKEN; OSINT_X_API_URL points at another base URL
    (a mirror, or the replay server of the tests).

    Example: osint collect x dia_diarra --case mali-2022 --since 2022-04-01
    """
    _run_collect(app, "x", username, case_name, **window)


@collect.command("telegram")
@click.argument("channel")
@_window_options
@pass_app
def collect_telegram(app: AppContext, channel: str, case_name: str, **window: Any) -> None:
    """Collect a public Telegram channel from its web preview (t.me/s/CHANNEL).

    No account or token needed; only channels with a public preview can be read.
    OSINT_TELEGRAM_URL points at another base URL (a mirror, or the tests' replay server).

    Example: osint collect telegram dia_diarra_news --case mali-2022
    """
    _run_collect(app, "telegram", channel, case_name, **window)


@collect.command("bluesky")
@click.argument("handle")
@_window_options
@pass_app
def collect_bluesky(app: AppContext, handle: str, case_name: str, **window: Any) -> None:
    """Collect a Bluesky account through the public AppView API (no login needed).

    HANDLE is a handle (name.bsky.social), a DID (did:plc:...) or a bsky.app profile URL.
    OSINT_BLUESKY_API_URL points at another AppView (or the tests' replay server).

    Example: osint collect bluesky dia-diarra.bsky.social --case mali-2022
    """
    _run_collect(app, "bluesky", handle, case_name, **window)


@collect.command("mastodon")
@click.argument("account", metavar="USER@INSTANCE")
@click.option(
    "--instance-url",
    help="Read through this instance (https://...) instead of the account's own.",
)
@_window_options
@pass_app
def collect_mastodon(
    app: AppContext, account: str, case_name: str, instance_url: str | None, **window: Any
) -> None:
    """Collect a Mastodon account through its instance's public API (no login needed).

    The instance is the one in USER@INSTANCE, unless --instance-url (or
    OSINT_MASTODON_INSTANCE_URL) names another one to read through.

    Example: osint collect mastodon dia_diarra@mastodon.social --case mali-2022
    """
    settings = None
    if instance_url:
        if not instance_url.startswith(("https://", "http://")):
            raise click.BadParameter(
                "give a URL such as https://mastodon.social", param_hint="--instance-url"
            )
        settings = app.settings.with_overrides(mastodon_instance_url=instance_url.rstrip("/"))
    _run_collect(app, "mastodon", account, case_name, settings=settings, **window)


# -- monitor -------------------------------------------------------------------------------
@cli.group(name="monitor")
def monitor_group() -> None:
    """Keep watching accounts: scheduled collections that record what they add, edit, delete.

    Each run of a job is an ordinary incremental collection plus change detection: new, edited
    and deleted posts, profile changes and suspensions become events (osint export events).

    Example: osint monitor add x dia_diarra --case mali-2022 --every 15m
    """


@monitor_group.command("add")
@click.argument("platform")
@click.argument("target")
@_case_option("collect into")
@click.option(
    "--every",
    "schedule",
    required=True,
    help='15m, 1h, 1d (also 30s, 6h, ...) or a cron expression such as "0 */6 * * *" (UTC).',
)
@click.option(
    "--full", is_flag=True, help="Re-read the whole timeline each run (finds edits of old posts)."
)
@click.option(
    "--recheck",
    type=click.IntRange(min=0),
    default=JobOptions.recheck,
    show_default=True,
    help="Known posts looked up directly each run to find deletions and edits "
    "(the newest N, and N older ones in turn); 0 turns the look-ups off.",
)
@click.option(
    "--follower-threshold",
    default=JobOptions.follower_threshold,
    show_default=True,
    help="Follower/following count change worth an event: a share (10%) or a number (50).",
)
@pass_app
def monitor_add(
    app: AppContext,
    platform: str,
    target: str,
    case_name: str,
    schedule: str,
    full: bool,
    recheck: int,
    follower_threshold: str,
) -> None:
    """Watch an account for a case on a schedule; its first run sets the baseline.

    Example: osint monitor add x dia_diarra --case mali-2022 --every 1h
    """
    from osint import monitor

    options = JobOptions(full=full, recheck=recheck, follower_threshold=follower_threshold)
    job = monitor.add_job(
        app.store,
        platform=platform,
        target=target,
        case=case_name,
        schedule=schedule,
        options=options,
    )
    console.print(
        f"job {job.id}: monitoring {job.platform}:{job.target} for case {job.case}, "
        f"{job.schedule_text}; first run due now (start a worker: osint monitor run)",
        markup=False,
    )


def _when(value: Any) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}" if value else "-"


@monitor_group.command("list")
@click.option("--case", "case_name", help="Only this case's jobs.")
@pass_app
def monitor_list(app: AppContext, case_name: str | None) -> None:
    """List monitoring jobs: schedule, state (failing jobs say so), next and last run.

    Example: osint monitor list --case mali-2022
    """
    from osint import monitor

    jobs = monitor.list_jobs(app.store, case=case_name)
    if not jobs:
        console.print("no monitoring jobs: add one with 'osint monitor add'", markup=False)
        return
    for job in jobs:
        state = job.condition
        style = "red" if state.startswith("failing") else "dim" if state == "paused" else None
        console.print(
            f"job {job.id}  {job.platform}:{job.target}  case {job.case}  {job.schedule_text}  "
            f"{state}",
            style=style,
            markup=False,
        )
        last = f"{job.last_status}" + (f": {job.last_error}" if job.last_error else "")
        console.print(
            f"    next run {_when(job.next_run_at)} UTC; last run {_when(job.last_run_at)}"
            + (f" {last}" if job.last_status else ""),
            markup=False,
        )


def _print_job(job: Any, state: str) -> None:
    console.print(f"job {job.id} ({job.platform}:{job.target}) {state}", markup=False)


@monitor_group.command("pause")
@click.argument("job_id", type=int)
@pass_app
def monitor_pause(app: AppContext, job_id: int) -> None:
    """Stop scheduling a job (a run in progress finishes).

    Example: osint monitor pause 3
    """
    from osint import monitor

    _print_job(monitor.pause_job(app.store, job_id), "paused")


@monitor_group.command("resume")
@click.argument("job_id", type=int)
@pass_app
def monitor_resume(app: AppContext, job_id: int) -> None:
    """Schedule a paused job again; a failing job is retried at the next worker pass.

    Example: osint monitor resume 3
    """
    from osint import monitor

    job = monitor.resume_job(app.store, job_id)
    _print_job(job, f"active, next run {_when(job.next_run_at)} UTC")


@monitor_group.command("remove")
@click.argument("job_id", type=int)
@pass_app
def monitor_remove(app: AppContext, job_id: int) -> None:
    """Delete a job; what it collected and its events stay in the case.

    Example: osint monitor remove 3
    """
    from osint import monitor

    _print_job(monitor.remove_job(app.store, job_id), "removed")


def _monitor_log(message: str) -> None:
    err_console.print(f"{time.strftime('%H:%M:%S')} {message}", markup=False)


@monitor_group.command("run")
@click.option("--once", is_flag=True, help="Run the jobs due now, then exit (for cron/timers).")
@click.option(
    "--workers", type=click.IntRange(1, 64), default=1, show_default=True, help="Jobs at a time."
)
@click.option("--case", "case_name", help="Only this case's jobs.")
@click.option("--notify-url", help="POST each event as JSON to this URL (retried, in background).")
@click.option("--notify-cmd", help="Run this command for each event, with its JSON on stdin.")
@pass_app
def monitor_run(
    app: AppContext,
    once: bool,
    workers: int,
    case_name: str | None,
    notify_url: str | None,
    notify_cmd: str | None,
) -> None:
    """Run due monitoring jobs, printing each event as it is found.

    Without --once the worker keeps going, sleeping until the next job is due. Ctrl-C or
    SIGTERM lets each run store the page it is on, then stops; the next start resumes. Several
    workers (processes or machines on one PostgreSQL) can run at once: each job runs on one.

    Example: osint monitor run --once --notify-url https://hooks.example.org/osint
    """
    from osint import monitor

    notifier = (
        monitor.Notifier(url=notify_url, command=notify_cmd, log=_monitor_log)
        if notify_url or notify_cmd
        else None
    )
    printing = threading.Lock()

    def on_event(record: dict[str, Any]) -> None:
        with printing:
            console.print(monitor.describe_event(record), markup=False)
        if notifier is not None:
            notifier.send(record)

    options = monitor.WorkerOptions(workers=workers, once=once, case=case_name)
    try:
        report = monitor.run_monitor(
            app.store, app.settings, options=options, on_event=on_event, log=_monitor_log
        )
    except BaseException:  # quitting at once (a second Ctrl-C): do not wait on the webhook
        if notifier is not None:
            notifier.close(timeout=1.0)
        raise
    if notifier is not None:
        notifier.close()
    _monitor_log(
        f"{report.runs} runs: {report.completed} completed, {report.unavailable} unavailable, "
        f"{report.failed} failed, {report.interrupted} interrupted; {report.events} events"
    )
    if once and report.failed:
        raise CollectError(
            f"{report.failed} of {report.runs} monitoring runs failed",
            hint="'osint monitor list' shows their errors; they are retried with backoff",
        )


# -- analyze -------------------------------------------------------------------------------
def _analysis_options(
    window: float,
    min_participation: int,
    edge_weight: float,
    modalities: tuple[str, ...] = (),
    keep_loops: bool = False,
) -> CoordinationOptions:
    from osint.analysis.coordination_pass import CoordinationOptions

    return CoordinationOptions(
        window=window,
        min_participation=min_participation,
        edge_weight=edge_weight,
        modalities=modalities or None,
        remove_loops=not keep_loops,
    )


def _coordination_flags(command: Any) -> Any:
    command = click.option(
        "--edge-weight", type=float, default=0.5, show_default=True,
        help="Quantile of edge weights an edge must exceed to count as repeated (CooRTweet's edge_weight).",
    )(command)  # fmt: skip
    command = click.option(
        "--min-participation", type=int, default=2, show_default=True,
        help="Shares an account needs to be considered (CooRTweet's min_participation).",
    )(command)  # fmt: skip
    return click.option(
        "--window", type=float, default=defaults.COORDINATION_WINDOW, show_default=True,
        help="Seconds within which two shares of one object are a co-share.",
    )(command)  # fmt: skip


def _print_coordination(
    report: analysis_coordination.CoordinationReport, show_all: bool = False
) -> None:
    if report.message:
        console.print(
            f"coordination of case {report.case} (run {report.run_id}): {report.message}; "
            "no finding",
            markup=False,
        )
        return
    console.print(
        f"coordination of case {report.case} (run {report.run_id}): {report.shares:,} shares, {report.pairs:,} co-share pairs, "
        f"{report.accounts:,} accounts and {report.edges:,} edges ({report.strong_edges:,} above the "
        f"edge-weight threshold), {report.findings} coordinated group(s) in {report.seconds:.1f} s",
        markup=False,
    )
    for name, (pairs, edges) in sorted(report.by_modality.items()):
        console.print(f"  {name}: {pairs:,} pairs, {edges:,} edges", markup=False)
    for warning in report.warnings:
        err_console.print(f"warning: {warning}", markup=False)
    shown = [*report.groups, *(report.candidates if show_all else [])]
    if shown:
        from rich.table import Table

        title = "Coordinated groups" + (" and candidates not flagged" if show_all else "")
        table = Table(title=title, title_justify="left")
        for column in (
            "#",
            "flagged",
            "accounts",
            "score",
            "objects",
            "co-shares",
            "modalities",
            "members",
        ):
            table.add_column(
                column,
                justify="right"
                if column in ("#", "accounts", "score", "objects", "co-shares")
                else "left",
            )
        flagged = len(report.groups)
        for index, group in enumerate(shown[: 10 if not show_all else 50]):
            table.add_row(
                str(group.rank), "yes" if index < flagged else "no", str(group.size), f"{group.score:.2f}", str(group.objects), f"{group.co_shares:,}",
                ", ".join(group.modalities), ", ".join(f"@{h}" for h in group.handles) + (" ..." if group.size > 5 else ""),
            )  # fmt: skip
        console.print(table)
    if report.candidates and not show_all:
        console.print(
            f"{len(report.candidates)} candidate group(s) below the bar, not flagged "
            "(--all lists them; 'osint export findings --all' exports them)",
            markup=False,
        )


def _print_images(summary: image_analysis.ImageAnalysisSummary) -> None:
    console.print(
        f"images of case {summary.case}: {summary.images:,} images ({summary.hashed_now:,} hashed "
        f"now, {summary.already_hashed:,} already, {summary.unusable:,} unusable, "
        f"{summary.missing:,} missing); {summary.clusters:,} clusters of copies, "
        f"{summary.findings:,} findings",
        markup=False,
    )
    shown = 10
    if summary.local_pairs:
        console.print(
            f"local features found {len(summary.local_pairs):,} "
            f"cop{'y' if len(summary.local_pairs) == 1 else 'ies'} the hashes missed "
            "(screenshots, rotations, framed copies):",
            markup=False,
        )
        for left, right, how in summary.local_pairs[:shown]:
            console.print(f"  media {right} shows media {left}: {how}", markup=False)
        if len(summary.local_pairs) > shown:
            console.print(f"  ... and {len(summary.local_pairs) - shown:,} more", markup=False)
    if summary.same_scene:
        pairs = ", ".join(f"media {a} ~ media {b}" for a, b in summary.same_scene[:shown])
        more = (
            f" and {len(summary.same_scene) - shown:,} more"
            if len(summary.same_scene) > shown
            else ""
        )
        console.print(
            f"same scene, not the same picture (never merged, no finding; compare them by eye): "
            f"{pairs}{more}",
            markup=False,
        )


def _print_timeline(report: analysis_timeline.TimelineReport) -> None:
    kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(report.by_kind.items())) or "none"
    console.print(
        f"timeline of case {report.case}: {report.accounts:,} accounts, {report.posts:,} posts, "
        f"{report.findings} finding(s) ({kinds}) in {report.seconds:.1f} s",
        markup=False,
    )
    if report.top_accounts:
        from rich.table import Table

        table = Table(title="Accounts with the most timeline signals", title_justify="left")
        table.add_column("account")
        table.add_column("signals")
        for handle, signals in report.top_accounts:
            table.add_row(f"@{handle}", ", ".join(signals))
        console.print(table)


@cli.group(invoke_without_command=True)
@click.option("--case", "case_name", help="Case to analyse (runs every analysis).")
@_coordination_flags
@pass_app
@click.pass_context
def analyze(
    ctx: click.Context,
    app: AppContext,
    case_name: str | None,
    window: float,
    min_participation: int,
    edge_weight: float,
) -> None:
    """Flag coordinated accounts: images, coordination and timeline analyses of a case.

    Without a sub-command every analysis runs, each replacing its previous findings.

    Example: osint analyze --case mali-2022 --window 60 --min-participation 2
    """
    if ctx.invoked_subcommand is not None:
        return
    if not case_name:
        raise click.UsageError(
            "--case is required (or name one analysis: coordination, timeline, images)"
        )
    from osint.analysis import pipeline as analysis_pipeline

    options = _analysis_options(window, min_participation, edge_weight)
    with TerminalProgress() as progress:
        result = analysis_pipeline.analyze_case(app.store, case_name, options, progress)
    _print_images(result.images)
    _print_coordination(result.coordination)
    _print_timeline(result.timeline)


@analyze.command("coordination")
@_case_option("analyse")
@_coordination_flags
@click.option("--all", "show_all", is_flag=True, help="Also list candidate groups below the bar.")
@click.option(
    "--modality",
    "modalities",
    multiple=True,
    help="Only these modalities (repeatable): repost, url, ...",
)
@click.option(
    "--keep-loops",
    is_flag=True,
    help="Keep pairs of one account with itself (CooRTweet's remove_loops=FALSE).",
)
@pass_app
def analyze_coordination(
    app: AppContext, case_name: str, window: float, min_participation: int, edge_weight: float,
    show_all: bool, modalities: tuple[str, ...], keep_loops: bool,
) -> None:  # fmt: skip
    """Find accounts that share the same objects within seconds of each other, repeatedly.

    Example: osint analyze coordination --case ru --window 60 --min-participation 2
    """
    from osint.analysis import coordination_pass as analysis_coordination

    options = _analysis_options(window, min_participation, edge_weight, modalities, keep_loops)
    with TerminalProgress() as progress:
        report = analysis_coordination.analyze_coordination(app.store, case_name, options, progress)
    _print_coordination(report, show_all)


@analyze.command("timeline")
@_case_option("analyse")
@pass_app
def analyze_timeline(app: AppContext, case_name: str) -> None:
    """Per-account timeline signals: timezone, office hours, regularity, bursts, renames.

    Example: osint analyze timeline --case mali-2022
    """
    from osint.analysis import timeline_pass as analysis_timeline

    with TerminalProgress() as progress:
        report = analysis_timeline.analyze_timeline(app.store, case_name, progress)
    _print_timeline(report)


@analyze.command("images")
@_case_option("analyse")
@click.option(
    "--threshold",
    type=int,
    default=defaults.IMAGE_RADIUS,
    show_default=True,
    help="Candidate search radius in bits of 64 (pHash, dHash); lower is stricter and faster. "
    "Candidates are then judged by two-hash rules (analyzers/imagematch.py).",
)
@click.option("--workers", type=int, default=2, show_default=True, help="Hashing processes.")
@click.option(
    "--pdq",
    is_flag=True,
    help="Also store PDQ hashes (Meta's 256-bit hash, for `osint export hashlist`).",
)
@click.option(
    "--event-start",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]),
    help="When the event the posts claim to show began (UTC); earlier copies are flagged.",
)
@pass_app
def analyze_images(
    app: AppContext,
    case_name: str,
    threshold: int,
    workers: int,
    pdq: bool,
    event_start: datetime | None,
) -> None:
    """Hash the case's images, group copies of the same picture, flag reuse across accounts.

    Example: osint analyze images --case mali-2022 --event-start 2022-04-21
    """
    from osint.analysis import images_pass as image_analysis

    start = event_start.replace(tzinfo=UTC) if event_start else None
    with TerminalProgress() as progress:
        summary = image_analysis.analyze_images(
            app.store,
            case=case_name,
            radius=threshold,
            workers=max(1, workers),
            event_start=start,
            pdq=pdq,
            progress=progress,
        )
    _print_images(summary)


# -- report, export, verify ----------------------------------------------------------------
@cli.command("report")
@_case_option("report on")
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), required=True, help="HTML file to write."
)
@click.option(
    "--max-posts",
    type=click.IntRange(min=0),
    default=defaults.REPORT_MAX_POSTS,
    show_default=True,
    help="Posts listed in full (all of them are in the evidence bundle).",
)
@pass_app
def report_cmd(app: AppContext, case_name: str, output: Path, max_posts: int) -> None:
    """Write the case report: one self-contained HTML file that opens in any browser.

    Example: osint report --case mali-2022 -o report.html
    """
    from osint.report import ReportLimits, write_report

    written = write_report(
        app.store, app.settings, case_name, output, ReportLimits(max_posts=max_posts)
    )
    console.print(
        f"wrote {written.path} ({written.size:,} bytes, {written.posts_listed:,} of "
        f"{written.posts_total:,} posts listed), sha256 {written.sha256}",
        markup=False,
    )


@cli.group()
def export() -> None:
    """Export a case: posts, findings, co-share pairs, networks, evidence bundle, web archive.

    Every JSONL/CSV export has times in UTC ending in Z; CSV cells a spreadsheet would run as a
    formula start with an added ' (JSONL keeps the exact text). A file appears whole or not at all.

    Example: osint export bundle --case mali-2022 -o mali-2022.zip
    """


@export.command("bundle")
@_case_option("export")
@_output_option("Zip file to write.", required=True)
@click.option("--tsa", "tsa_url", help="RFC 3161 time-stamping authority URL to timestamp with.")
@pass_app
def export_bundle_cmd(app: AppContext, case_name: str, output: Path, tsa_url: str | None) -> None:
    """Write a verifiable evidence bundle: data, media, WARC files, report, manifest.

    Example: osint export bundle --case mali-2022 -o mali-2022.zip --tsa https://freetsa.org/tsr
    """
    from osint import bundle

    with TerminalProgress() as progress:
        summary = bundle.export_bundle(
            app.store, app.settings, case_name, output, tsa_url=tsa_url, progress=progress
        )
    for item in summary.omitted:
        err_console.print(f"warning: not included: {item['path']} ({item['reason']})", markup=False)
    console.print(
        f"wrote {summary.path}: {summary.files:,} files, {summary.bytes:,} bytes"
        + (", manifest timestamped" if summary.timestamped else ""),
        markup=False,
    )
    console.print(f"manifest.json sha256 {summary.manifest_sha256}", markup=False)


@export.command("posts")
@_export_options(FORMATS, "jsonl")
@pass_app
def export_posts_cmd(app: AppContext, case_name: str, fmt: str, output: Path | None) -> None:
    """Export every post of a case with its media and capture provenance.

    Example: osint export posts --case mali-2022 --format jsonl -o posts.jsonl
    """
    from osint.export import export_posts

    _export_to(
        output,
        f"posts of case {case_name}",
        lambda out: export_posts(app.store, case_name, out, fmt=fmt),
    )


@export.command("events")
@_export_options(FORMATS, "jsonl")
@pass_app
def export_events_cmd(app: AppContext, case_name: str, fmt: str, output: Path | None) -> None:
    """Export what monitoring saw change, with the captures proving before and after.

    Example: osint export events --case mali-2022 --format csv -o events.csv
    """
    from osint import monitor

    _export_to(
        output,
        f"events of case {case_name}",
        lambda out: monitor.export_events(app.store, case_name, out, fmt=fmt),
    )


@export.command("images")
@_export_options(defaults.IMAGE_EXPORT_FORMATS, "csv")
@pass_app
def export_images_cmd(app: AppContext, case_name: str, fmt: str, output: Path | None) -> None:
    """List the case's images: sha256, hashes, cluster, first seen, accounts that used them.

    Run `osint analyze images` first for hashes and clusters.

    Example: osint export images --case mali-2022 --format jsonl -o images.jsonl
    """
    from osint.analysis import images_pass as image_analysis

    _export_to(
        output,
        f"images of case {case_name}",
        lambda out: image_analysis.export_images(app.store, case=case_name, fmt=fmt, out=out),
    )


@export.command("hashlist")
@_case_option("export")
@_output_option(names=("-o", "--out"))
@pass_app
def export_hashlist_cmd(app: AppContext, case_name: str, output: Path | None) -> None:
    """Write the case's PDQ hash list to share: ThreatExchange's CSV, one picture a line.

    Columns signal_type,signal_str,collab,category,tags (as `threatexchange dataset -P --csv`),
    then sha256, first_post_url, first_posted_at, accounts. Run
    `osint analyze images --case C --pdq` first.

    Example: osint export hashlist --case mali-2022 --out mali-2022.pdq.csv
    """
    from osint import hashlist

    summary = hashlist.export_hashlist(app.store, case=case_name, out=output)
    err_console.print(
        f"exported {summary.written:,} PDQ hashes of case {case_name} "
        f"({summary.without_pdq:,} of {summary.images:,} pictures have no PDQ hash)",
        markup=False,
    )


@export.command("wacz")
@_case_option("export")
@_output_option("WACZ file to write.", required=True)
@pass_app
def export_wacz_cmd(app: AppContext, case_name: str, output: Path) -> None:
    """Write the case's captures as a WACZ web archive (opens in ReplayWeb.page).

    Example: osint export wacz --case mali-2022 -o mali-2022.wacz
    """
    from osint import wacz

    summary = wacz.export_wacz(app.store, app.settings, case_name, output)
    console.print(
        f"wrote {summary.path}: {summary.warc_files} WARC files, {summary.records:,} records "
        f"indexed, {summary.pages:,} pages, {summary.size:,} bytes",
        markup=False,
    )


@cli.command("verify")
@click.argument("bundle_path", metavar="BUNDLE", type=click.Path(path_type=Path))
@click.option(
    "--expect",
    metavar="SHA256",
    help="SHA-256 of manifest.json recorded when the bundle was made (printed by export bundle).",
)
@click.option(
    "--tsa-cert",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="PEM certificate of the time-stamping authority (or its root) to check the token with.",
)
def verify_cmd(bundle_path: Path, expect: str | None, tsa_cert: Path | None) -> None:
    """Check an evidence bundle: every file's SHA-256, the manifest, the timestamp.

    Exits 0 only when everything checks, and says what was proven and what was not: without
    --expect (or a timestamp checked with --tsa-cert) nothing shows that the manifest itself is
    the original. Nothing is extracted.

    Example: osint verify mali-2022.zip --expect 3b1f...e9 --tsa-cert tsa-ca.pem
    """
    from osint import verify

    result = verify.verify_bundle(bundle_path, tsa_cert=tsa_cert, expect=expect)
    console.print(
        f"{result.path}: case {result.case!r}, made {result.created_at}; checked "
        f"{result.files_checked:,} files, {result.bytes_checked:,} bytes",
        markup=False,
    )
    for item in result.omitted:
        console.print(
            f"note: left out when exported: {item.get('path')} ({item.get('reason')})", markup=False
        )
    for problem in result.problems:
        console.print(str(problem), markup=False)
    for line in verify.proof_lines(result):
        console.print(line, markup=False)
    if not result.ok:
        raise VerifyError(f"{bundle_path} failed verification: {len(result.problems)} problem(s)")
    console.print(f"OK: manifest.json sha256 {result.manifest_sha256}", markup=False)


# -- export: findings, co-share pairs, networks ------------------------------------------
def _run_option(command: F) -> F:
    return click.option(
        "--run", "run_id", type=int, help="Coordination run to export (default: the latest)."
    )(command)


def _run_flags(command: Callable[..., Any]) -> Callable[..., Any]:
    """--run N, and the analysis parameters as checks of the run (never recomputed): the
    command gets them as one ``expect`` mapping."""

    @functools.wraps(command)
    def with_expect(*args: Any, **kwargs: Any) -> Any:
        expect = {name: kwargs.pop(name) for name in _RUN_CHECKS}
        return command(*args, expect=expect, **kwargs)

    for name, kind in _RUN_CHECKS.items():
        with_expect = click.option(
            f"--{name.replace('_', '-')}", name, type=kind, default=None,
            help=f"Fail unless the run used this {name.replace('_', '-')} (the run is exported as analysed).",
        )(with_expect)  # fmt: skip
    return _run_option(with_expect)


_RUN_CHECKS: dict[str, type] = {"edge_weight": float, "min_participation": int, "window": float}


def _output(path: Path | None) -> Any:
    """Where an export goes: stdout for '-', else a file that appears whole or not at all."""
    from osint.writers import text_output

    return text_output(path)


def _export_to(output: Path | None, what: str, write: Callable[[Any], int]) -> None:
    """Run ``write`` on the export's stream, then say how many ``what`` it wrote."""
    with _output(output) as out:
        count = write(out)
    err_console.print(f"exported {count:,} {what}", markup=False)


@export.command("findings")
@_export_options(["jsonl"], "jsonl")
@_run_option
@click.option(
    "--all", "include_all", is_flag=True,
    help="Also the candidate groups below the bar, labelled \"flagged\": false.",
)  # fmt: skip
@pass_app
def export_findings(
    app: AppContext,
    case_name: str,
    fmt: str,
    output: Path | None,
    run_id: int | None,
    include_all: bool,
) -> None:
    """Every finding, one JSON object a line, with its accounts, posts and media.

    Example: osint export findings --case mali-2022 --format jsonl -o findings.jsonl
    """
    from osint.analysis import export as analysis_export

    _export_to(
        output,
        "finding(s)",
        lambda out: analysis_export.export_findings(
            app.store, case_name, out, run=run_id, include_all=include_all
        ),
    )


@export.command("coordination")
@_export_options(["csv"], "csv")
@_run_flags
@pass_app
def export_coordination(
    app: AppContext,
    case_name: str,
    fmt: str,
    output: Path | None,
    run_id: int | None,
    expect: dict[str, Any],
) -> None:
    """The co-share pairs (CooRTweet's detect_groups table) of a stored analysis run.

    Reads the latest run (or --run N) as analysed; --window and the like only check that
    the run used them.

    Example: osint export coordination --case ru --format csv -o pairs.csv
    """
    from osint.analysis import export as analysis_export

    _export_to(
        output,
        "co-share pair(s)",
        lambda out: analysis_export.export_pairs(
            app.store, case_name, out, run=run_id, expect=expect
        ),
    )


@export.command("network")
@_export_options(defaults.NETWORK_FORMATS, "graphml")
@_run_flags
@pass_app
def export_network(
    app: AppContext,
    case_name: str,
    fmt: str,
    output: Path | None,
    run_id: int | None,
    expect: dict[str, Any],
) -> None:
    """The account network of a stored analysis run (for Gephi): handles, groups, signals.

    Example: osint export network --case mali-2022 --format graphml -o network.graphml
    """
    from osint.analysis import export as analysis_export

    with _output(output) as out:
        accounts, edges = analysis_export.export_network(
            app.store, case_name, fmt, out, run=run_id, expect=expect
        )
    err_console.print(f"exported {accounts:,} accounts and {edges:,} edges", markup=False)


# -- demo --------------------------------------------------------------------------------
@cli.command("demo")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("osint-demo"),
    show_default=True,
    help="Folder for the demo's data folder, report and bundle.",
)
@pass_app
def demo(app: AppContext, out_dir: Path) -> None:
    """Run the whole investigation offline on a synthetic "Dia Diarra"-shaped world.

    Starts a loopback server that answers like the platforms, collects every account of the
    scenario into the case 'demo', analyses it, and writes an HTML report and an evidence bundle.
    Uses a fresh data folder under --out unless --home, --db or OSINT_HOME says otherwise.

    Example: osint demo --out /tmp/osint-demo
    """
    from osint.analysis import pipeline as analysis_pipeline
    from osint.demo.run import run_demo

    if app.home is None and app.db is None and not os.environ.get("OSINT_HOME"):
        app.home = str(out_dir / "home")
    with TerminalProgress() as progress:
        result = run_demo(
            app.store,
            app.settings,
            out=out_dir,
            progress=progress,
            analyze=analysis_pipeline.analyze_for_demo,
        )
    c = result.case
    console.print(
        f"demo: collected {result.collected} accounts in {result.seconds:.1f} s: "
        f"{c.accounts:,} accounts, {c.posts:,} posts, {c.media:,} images, {c.findings:,} findings",
        markup=False,
    )
    for line in result.highlights:
        console.print(f"  {line}", markup=False)
    if result.skipped:
        console.print(f"  (no collector yet for: {', '.join(result.skipped)})", markup=False)
    console.print(f"data folder  {result.home}", markup=False)
    console.print(f"report       {result.report}", markup=False)
    console.print(
        f"bundle       {result.bundle}  (check it: osint verify {result.bundle})", markup=False
    )
    console.print(f"manifest sha256 {result.manifest_sha256}", markup=False)


@cli.group(name="match")
def match_group() -> None:
    """Match a case against lists others share (known pictures, as PDQ hashes).

    Example: osint match hashlist known-staged.csv --case mali-2022
    """


@match_group.command("hashlist")
@click.argument("list_file", type=click.Path(path_type=Path))
@_case_option("match")
@click.option(
    "--threshold",
    type=int,
    default=31,
    show_default=True,
    help="Most PDQ bits (of 256) apart for a match; 31 is ThreatExchange's default.",
)
@pass_app
def match_hashlist_cmd(app: AppContext, list_file: Path, case_name: str, threshold: int) -> None:
    """Find the case's pictures on a PDQ hash list; store one finding per listed picture.

    Reads ThreatExchange's CSV (`threatexchange dataset -P --csv`, `osint export hashlist`) or a
    signal file (one `pdq <hash>` a line). Bad lines are reported by number; the rest are used.
    Run `osint analyze images --case C --pdq` first.

    Example: osint match hashlist known-staged.csv --case mali-2022
    """
    from osint import hashlist

    summary = hashlist.match_hashlist_file(
        app.store, case=case_name, path=list_file, threshold=threshold
    )
    for problem in summary.problems[: hashlist.MAX_SHOWN_PROBLEMS]:
        err_console.print(f"{summary.list_name}: {problem}", markup=False)
    hidden = len(summary.problems) - hashlist.MAX_SHOWN_PROBLEMS
    if hidden > 0:
        err_console.print(f"... and {hidden:,} more problem lines", markup=False)
    console.print(
        f"hash list {summary.list_name} ({summary.format}, {summary.entries:,} PDQ entries, "
        f"{len(summary.problems):,} problem lines) against case {case_name}: "
        f"{summary.matched_images:,} of {summary.images:,} pictures match within {threshold} "
        f"bits; {summary.findings:,} findings stored (osint export findings)",
        markup=False,
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the command, turning osint errors into one line and an exit code."""
    verbose = "-v" in (argv or sys.argv[1:]) or "--verbose" in (argv or sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="osint", standalone_mode=False)
    except click.exceptions.Abort:
        err_console.print("aborted", markup=False)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except OsintError as exc:
        if verbose:
            traceback.print_exc()
        from osint.writers import disk_full_error

        exc = disk_full_error(exc) or exc  # an error raised from a full disk says so
        err_console.print(f"error: {exc}", markup=False)
        return exc.exit_code
    except KeyboardInterrupt:
        err_console.print("interrupted", markup=False)
        return 130
    except Exception as exc:
        if verbose:
            traceback.print_exc()
        from osint.writers import disk_full_error

        full = disk_full_error(exc)
        if full is not None:
            err_console.print(f"error: {full}", markup=False)
            return full.exit_code
        err_console.print(
            f"error: unexpected {type(exc).__name__}: {exc} (run with --verbose for details)",
            markup=False,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
