"""Monitoring jobs from the command line: add, list, pause, resume, remove, run, export events;
failing jobs back off and show as failing."""

from __future__ import annotations

import csv
import io
import json
import shlex
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from osint.config import Settings
from osint.demo.replay import ReplayServer
from osint.monitor import list_jobs
from osint.storage.db import Store
from osint.storage.models import MonitorJob
from osint.storage.types import utcnow
from tests.conftest import CliRun, replay_x_env
from tests.demo.replay.worlds import dia_world
from tests.monitor.conftest import make_due, run_once


@pytest.fixture
def cli_env(replay: ReplayServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line pointed at the replay server, with short retries."""
    for name, value in {
        **replay_x_env(replay),
        "OSINT_HTTP_BACKOFF": "0.01",
        "OSINT_HTTP_RETRIES": "1",
        "OSINT_MONITOR_RETRY": "60",
    }.items():
        monkeypatch.setenv(name, value)


def test_add_list_pause_resume_remove(run_cli: CliRun) -> None:
    run_cli("case", "new", "c")
    added = run_cli("monitor", "add", "x", "@Dia_Diarra", "--case", "c", "--every", "15m")
    assert "job 1: monitoring x:dia_diarra for case c, every 15 minutes" in added.stdout
    run_cli("monitor", "add", "x", "sahel_news", "--case", "c", "--every", "0 */6 * * *")
    listing = run_cli("monitor", "list").stdout
    assert "x:dia_diarra" in listing and "every 15 minutes" in listing
    assert "cron 0 */6 * * * (UTC)" in listing and "active" in listing
    assert "paused" in run_cli("monitor", "pause", "1").stdout
    assert "paused" in run_cli("monitor", "list", "--case", "c").stdout
    assert "active" in run_cli("monitor", "resume", "1").stdout
    assert "removed" in run_cli("monitor", "remove", "2").stdout
    assert "sahel_news" not in run_cli("monitor", "list").stdout


def test_bad_input_is_one_line(run_cli: CliRun) -> None:
    run_cli("case", "new", "c")
    run_cli("monitor", "add", "x", "dia_diarra", "--case", "c", "--every", "1h")
    twice = run_cli("monitor", "add", "x", "dia_diarra", "--case", "c", "--every", "1d", expect=2)
    assert "already monitored in case 'c' (job 1)" in twice.stderr
    bad = run_cli("monitor", "add", "x", "dia", "--case", "c", "--every", "soon", expect=2)
    assert "not a schedule: 'soon'" in bad.stderr
    assert "cannot collect from 'myspace'" in (
        run_cli("monitor", "add", "myspace", "a", "--case", "c", "--every", "1h", expect=2).stderr
    )
    assert "no case named 'nope'" in (
        run_cli("monitor", "add", "x", "a", "--case", "nope", "--every", "1h", expect=2).stderr
    )
    assert "no monitoring job 9" in run_cli("monitor", "pause", "9", expect=2).stderr
    for result in (twice, bad):
        assert len(result.stderr.strip().splitlines()) == 1


def test_run_once_prints_events_and_exports_them(
    run_cli: CliRun, replay: ReplayServer, cli_env: None, home: Path
) -> None:
    dia = dia_world(replay.world, posts=3)
    run_cli("case", "new", "c")
    run_cli("monitor", "add", "x", "dia_diarra", "--case", "c", "--every", "1h")
    first = run_cli("monitor", "run", "--once")
    assert first.stdout == "" and "1 runs: 1 completed" in first.stderr
    assert run_cli("monitor", "run", "--once").stderr.count("0 runs") == 1  # not due yet
    post = replay.world.add_post(dia, "Un nouveau message")
    replay.world.delete_post(replay.world.timeline(dia)[1])
    _make_all_due(run_cli)
    second = run_cli("monitor", "run", "--once", "--case", "c")
    lines = second.stdout.strip().splitlines()
    assert len(lines) == 2 and any(f"post_new {post.id}" in line for line in lines)
    assert any("post_deleted" in line for line in lines)
    exported = run_cli("export", "events", "--case", "c").stdout.strip().splitlines()
    records = [json.loads(line) for line in exported]
    assert sorted(r["kind"] for r in records) == ["post_deleted", "post_new"]
    new = next(r for r in records if r["kind"] == "post_new")
    assert new["post_id"] == post.id and new["account_handle"] == "Dia_Diarra"
    assert new["after_capture"]["sha256"] and new["after_capture"]["warc_file"]
    out = home / "events.csv"
    run_cli("export", "events", "--case", "c", "--format", "csv", "-o", str(out))
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [r["kind"] for r in rows] == [r["kind"] for r in records]
    assert json.loads(rows[0]["after"]) == records[0]["after"]


def _make_all_due(run_cli: CliRun) -> None:
    from osint.config import load_settings
    from osint.store import open_store

    store = open_store(load_settings(home=run_cli.home, db=run_cli.db_url, environ={}))
    try:
        make_due(store)
    finally:
        store.dispose()


def test_a_failing_job_backs_off_and_shows_as_failing(
    store: Store, mon_settings: Settings, replay: ReplayServer, run_cli: CliRun, cli_env: None
) -> None:
    dia_world(replay.world, posts=3)
    run_cli("case", "new", "c")
    run_cli("monitor", "add", "x", "dia_diarra", "--case", "c", "--every", "15m")
    replay.world.faults.add("status", status=503, path="/users/", times=1000)
    failed = run_cli("monitor", "run", "--once", expect=3)
    assert "1 of 1 monitoring runs failed" in failed.stderr
    [job] = list_jobs(store)
    assert job.condition == "failing (1 in a row)" and "HTTP 503" in (job.last_error or "")
    first_wait = job.next_run_at - utcnow()
    assert timedelta(seconds=50) < first_wait <= timedelta(seconds=60)
    listing = run_cli("monitor", "list").stdout
    assert "failing (1 in a row)" in listing and "HTTP 503" in listing
    asked = len(replay.requests)
    report, _ = run_once(store, mon_settings)  # not due again yet: no tight loop
    assert report.runs == 0 and len(replay.requests) == asked
    make_due(store)
    report, _ = run_once(store, mon_settings)
    assert report.failed == 1
    [job] = list_jobs(store)
    assert job.consecutive_failures == 2
    assert timedelta(seconds=55) < job.next_run_at - utcnow() <= timedelta(seconds=60)
    # mon_settings' retry is 30 s: 30 * 2 for the second failure; the max caps it
    replay.world.faults.clear()
    run_cli("monitor", "resume", str(job.id))  # retry now, backoff forgotten once it works
    assert run_once(store, mon_settings)[0].completed == 1
    with store.reader() as s:
        row = s.execute(select(MonitorJob)).scalar_one()
    assert row.consecutive_failures == 0 and row.last_status == "completed"
    assert timedelta(minutes=14) < row.next_run_at - utcnow() <= timedelta(minutes=15)


def test_the_readme_monitoring_example_runs(
    run_cli: CliRun,
    replay: ReplayServer,
    cli_env: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Monitoring", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    dia_world(replay.world, posts=3)
    monkeypatch.chdir(tmp_path)
    run_cli("case", "new", "mali-2022")
    commands = 0
    for line in block.strip().splitlines():
        words = shlex.split(line, comments=True)
        while words:
            command = words[: words.index("&&")] if "&&" in words else words
            words = words[len(command) + 1 :]
            assert command[0] == "osint"
            run_cli(*command[1:])
            commands += 1
    assert commands == 7 and (tmp_path / "events.csv").is_file()
