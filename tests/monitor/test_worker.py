"""The worker: leases, threads, SIGTERM and SIGKILL, over real processes and sockets."""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from osint.cases import create_case
from osint.config import Settings
from osint.demo.replay import ReplayServer, World, WorldAccount
from osint.monitor import MonitorWorker, add_job, list_jobs, remove_job
from osint.monitor.events import iter_event_records
from osint.monitor.lease import claim_due_job, next_due
from osint.storage.db import Store
from osint.storage.models import CollectionRun, MonitorJob, Post
from osint.storage.types import utcnow
from tests.conftest import REPO, replay_x_env, spawn_env
from tests.demo.replay.worlds import dia_world
from tests.monitor.conftest import make_due, run_once
from tests.test_collect_durability import _kill_at_request, case_contents

TRIALS = 3
VOLATILE = {"seen_at", "deleted_at"}  # times of detection, which differ between runs


def spawn_worker(
    replay: ReplayServer, home: Path, db_url: str, *args: str
) -> subprocess.Popen[bytes]:
    env = spawn_env(
        home, db_url, **replay_x_env(replay), OSINT_MONITOR_LEASE="3", OSINT_MONITOR_POLL="0.2"
    )
    return subprocess.Popen(
        [sys.executable, "-m", "osint", "monitor", "run", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def comparable(records: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """Events as (kind, post, before, after), without ids and detection times."""

    def strip(values: dict[str, Any]) -> str:
        return json.dumps({k: v for k, v in values.items() if k not in VOLATILE}, sort_keys=True)

    return sorted(
        (r["kind"], r["post_id"] or "", strip(r["before"]), strip(r["after"])) for r in records
    )


def change_the_world(world: World, dia: WorldAccount) -> None:
    """Three new posts (two with pictures), an edit, two deletions, a rename and a new avatar."""
    for n in range(3):
        world.add_post(dia, f"Nouveau {n}", media=[world.add_image(30 + n, 20)] if n < 2 else [])
    timeline = world.timeline(dia)
    world.edit_post(timeline[6], "Texte corrigé")
    world.delete_post(timeline[4])
    world.delete_post(timeline[9])
    avatar = world.add_image(40, 40, (250, 250, 0))
    world.update_account(dia, handle="Awa_Traore", display_name="Awa", avatar=avatar.id)


def deleted_posts(store: Store, case: str) -> set[str]:
    with store.reader() as s:
        from osint.storage.models import Case

        case_id = s.execute(select(Case.id).where(Case.name == case)).scalar_one()
        return set(
            s.execute(
                select(Post.platform_id).where(
                    Post.case_id == case_id, Post.deleted_at.is_not(None)
                )
            ).scalars()
        )


@pytest.mark.slow
def test_a_worker_killed_mid_run_and_restarted_loses_and_duplicates_nothing(
    store: Store, mon_settings: Settings, replay: ReplayServer, home: Path, db_url: str
) -> None:
    dia = dia_world(replay.world, posts=230, image_every=6)  # 234 posts, three pages
    replay.latency = 0.002
    names = ["ref", *(f"trial{n}" for n in range(TRIALS))]
    for name in names:
        create_case(store, name)
        add_job(store, platform="x", target="dia_diarra", case=name, schedule="1h")
    assert run_once(store, mon_settings, workers=2)[0].completed == len(names)  # baselines
    change_the_world(replay.world, dia)
    make_due(store)
    before = len(replay.requests)
    report, reference = run_once(store, mon_settings, case="ref")
    total = len(replay.requests) - before
    assert report.completed == 1 and total > 5
    assert sorted(e["kind"] for e in reference) == [
        *["post_deleted"] * 2,
        "post_edited",
        *["post_new"] * 3,
        "profile_changed",
    ]
    expected, contents = comparable(reference), case_contents(store, "ref")
    seed = int.from_bytes(os.urandom(4), "big")
    rng, killed = random.Random(seed), 0
    for trial, name in enumerate(names[1:]):
        for _ in range(1 + trial % 2):  # trial 1 is killed twice before it is let finish
            proc = spawn_worker(replay, home, db_url, "--once", "--case", name)
            killed += _kill_at_request(proc, replay, rng.randint(1, total), rng)
        assert run_once(store, mon_settings, case=name)[0].failed == 0
        got = list(iter_event_records(store, name))
        assert comparable(got) == expected, f"{name} diverged (seed {seed})"
        assert case_contents(store, name) == contents, f"{name} diverged (seed {seed})"
        assert deleted_posts(store, name) == deleted_posts(store, "ref")
    assert killed >= TRIALS
    assert all(j.lease_owner is None and j.last_status == "completed" for j in list_jobs(store))


@pytest.mark.slow
def test_sigterm_stores_the_current_page_and_the_next_start_resumes(
    store: Store, mon_settings: Settings, replay: ReplayServer, home: Path, db_url: str
) -> None:
    dia_world(replay.world, posts=230, image_every=6)
    create_case(store, "c")
    add_job(store, platform="x", target="dia_diarra", case="c", schedule="1h")
    replay.latency = 0.03
    first_page = threading.Event()
    replay.on_request = lambda r: first_page.set() if r.path.endswith("/tweets") else None
    proc = spawn_worker(replay, home, db_url)  # a long-running worker
    assert first_page.wait(30)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    replay.on_request = None
    assert proc.returncode == 0, err.decode()
    assert time.monotonic() - started < 15 and b"SIGTERM" in err
    with store.reader() as s:
        run = s.execute(select(CollectionRun)).scalar_one()
        stored = s.execute(select(func.count()).where(Post.seen_via.is_(None))).scalar_one()
    assert run.status == "interrupted" and run.state["pages"] >= 1 and not run.state["complete"]
    assert 0 < stored < 234  # whole pages, not the whole timeline
    [job] = list_jobs(store)
    assert job.lease_owner is None and job.last_status == "interrupted"
    assert job.next_run_at <= utcnow()  # still due: the next start resumes it
    replay.latency = 0
    report, _ = run_once(store, mon_settings)
    assert report.completed == 1
    with store.reader() as s:
        runs = s.execute(select(CollectionRun)).scalars().all()
        stored = s.execute(select(func.count()).where(Post.seen_via.is_(None))).scalar_one()
    assert len(runs) == 1 and runs[0].status == "completed"  # the same run, resumed
    assert stored == 234


def test_a_leased_job_runs_on_one_worker_only(
    store: Store, mon_settings: Settings, replay: ReplayServer
) -> None:
    replay.world.add_account("x", "watched")
    create_case(store, "c")
    job = add_job(store, platform="x", target="watched", case="c", schedule="1h")
    held = claim_due_job(
        store,
        "elsewhere:1:a",
        hostname=mon_settings.hostname,
        lease_seconds=60,
        due_by=utcnow(),
    )
    assert held is not None and held.id == job.id
    assert run_once(store, mon_settings)[0].runs == 0  # leased by a live worker elsewhere
    with store.session() as s:  # that worker died a minute ago: its lease expired
        s.execute(update(MonitorJob).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    assert run_once(store, mon_settings)[0].completed == 1


def test_a_dead_worker_of_this_machine_is_taken_over_at_once(
    store: Store, mon_settings: Settings, replay: ReplayServer
) -> None:
    replay.world.add_account("x", "watched")
    create_case(store, "c")
    add_job(store, platform="x", target="watched", case="c", schedule="1h")
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    dead = f"{mon_settings.hostname}:{gone.stdout.strip()}:dead"
    alive = f"{mon_settings.hostname}:{os.getppid()}:alive"
    for owner, runs in ((alive, 0), (dead, 1)):
        with store.session() as s:
            s.execute(
                update(MonitorJob).values(
                    lease_owner=owner, lease_expires_at=utcnow() + timedelta(hours=1)
                )
            )
        assert run_once(store, mon_settings)[0].runs == runs


def test_threads_share_the_due_jobs_and_run_each_once(
    store: Store, mon_settings: Settings, replay: ReplayServer
) -> None:
    create_case(store, "c")
    for n in range(12):
        account = replay.world.add_account("x", f"acct_{n:02d}", avatar=None)
        replay.world.add_post(account, f"hello {n}")
        add_job(store, platform="x", target=account.handle, case="c", schedule="1h")
    replay.latency = 0.01
    report, _ = run_once(store, mon_settings, workers=3)
    assert report.completed == 12 and report.runs == 12
    with store.reader() as s:
        per_target = s.execute(
            select(CollectionRun.target, func.count()).group_by(CollectionRun.target)
        ).all()
    assert len(per_target) == 12 and {n for _, n in per_target} == {1}
    assert run_once(store, mon_settings, workers=3)[0].runs == 0  # not due again


def test_a_long_running_worker_sleeps_until_the_next_job_is_due(
    store: Store, mon_settings: Settings, replay: ReplayServer
) -> None:
    replay.world.add_account("x", "watched")
    create_case(store, "c")
    add_job(store, platform="x", target="watched", case="c", schedule="2s")
    worker = MonitorWorker(store, mon_settings.with_overrides(monitor_poll=5.0))
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while worker.report.completed < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
        thread.join(10)
    assert not thread.is_alive() and worker.report.completed >= 2
    with store.reader() as s:
        starts = s.execute(select(CollectionRun.started_at).order_by(CollectionRun.id)).scalars()
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(list(starts))]
    assert gaps and min(gaps) > 1.5  # on its schedule, not in a loop


def test_the_next_claimable_time_counts_live_leases(store: Store, replay: ReplayServer) -> None:
    create_case(store, "c")
    job = add_job(store, platform="x", target="watched", case="c", schedule="1h")
    assert abs((next_due(store) - job.next_run_at).total_seconds()) < 0.01
    expires = utcnow() + timedelta(seconds=60)
    with store.session() as s:
        s.execute(update(MonitorJob).values(lease_owner="elsewhere:1:a", lease_expires_at=expires))
    assert abs((next_due(store) - expires).total_seconds()) < 0.01


def test_jobs_of_one_platform_share_its_rate_budget(
    store: Store, mon_settings: Settings, replay: ReplayServer
) -> None:
    create_case(store, "c")
    for handle in ("first", "second"):
        replay.world.add_post(replay.world.add_account("x", handle), f"hello from {handle}")
        add_job(store, platform="x", target=handle, case="c", schedule="1h")
    replay.app("x").set_rate_limit("user_tweets", 1, 2.0)  # type: ignore[attr-defined]
    report, _ = run_once(store, mon_settings)
    assert report.completed == 2
    timelines = [r for r in replay.requests if r.path.endswith("/tweets")]
    # the second job waited for the window the first one used up, instead of hitting a 429
    assert len(timelines) == 2
    assert timelines[1].at >= int(timelines[0].at + 2.0)


def test_a_job_removed_while_it_runs_keeps_what_it_found(
    store: Store, mon_settings: Settings, replay: ReplayServer
) -> None:
    account = replay.world.add_account("x", "watched")
    create_case(store, "c")
    job = add_job(store, platform="x", target="watched", case="c", schedule="1h")
    run_once(store, mon_settings)
    post = replay.world.add_post(account, "found after the job was removed")
    make_due(store)
    logged: list[str] = []
    worker = MonitorWorker(store, mon_settings, log=logged.append)
    claimed = claim_due_job(
        store, worker.owner, hostname=mon_settings.hostname, lease_seconds=60, due_by=utcnow()
    )
    assert claimed is not None
    remove_job(store, job.id)
    outcome = worker.run_job(claimed)
    assert outcome.status == "completed" and any("removed" in line for line in logged)
    [event] = list(iter_event_records(store, "c"))
    assert event["post_id"] == post.id and event["job_id"] is None
    assert list_jobs(store) == []
