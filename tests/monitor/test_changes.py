"""Change detection against the replay server, its world changed between runs.

Each change produces exactly one event with the right before and after, linked to the captures
that prove them; running again without a change produces none.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator

from osint.collect import collect_account
from osint.config import Settings
from osint.demo.replay import ReplayServer, WorldAccount
from osint.monitor import JobOptions, add_job
from osint.storage.db import Store
from osint.storage.models import Capture, MonitorJob, Post, PostVersion
from osint.storage.types import utcnow
from tests.demo.replay.worlds import dia_world
from tests.monitor.conftest import events, make_due, run_once


def start_watching(
    store: Store, settings: Settings, replay: ReplayServer, **options: Any
) -> tuple[WorldAccount, int]:
    """Dia Diarra's account, watched hourly; the first run (the baseline) reports nothing."""
    dia = dia_world(replay.world, posts=5)
    job = add_job(
        store,
        platform="x",
        target="dia_diarra",
        case="c",
        schedule="1h",
        options=JobOptions(**options),
    )
    report, seen = run_once(store, settings)
    assert report.completed == 1 and seen == [] and events(store) == []
    return dia, job.id


def next_period(store: Store, settings: Settings) -> list[dict[str, Any]]:
    make_due(store)
    report, seen = run_once(store, settings)
    assert report.runs == 1 and report.failed == 0, report
    return seen


def capture_body(store: Store, home: Path, capture: dict[str, Any] | None) -> bytes:
    """The raw response body of a capture, read back from its WARC record."""
    assert capture is not None
    with store.reader() as s:
        row = s.execute(select(Capture).where(Capture.id == capture["id"])).scalar_one()
    with (home / row.warc_file).open("rb") as fh:
        fh.seek(row.warc_offset)
        member = fh.read(row.warc_length)
    record = next(iter(ArchiveIterator(io.BytesIO(member))))
    body = record.content_stream().read()
    assert hashlib.sha256(body).hexdigest() == capture["sha256"] == row.sha256
    return bytes(body)


def test_first_run_is_the_baseline_and_quiet_runs_report_nothing(
    store: Store, mon_settings: Settings, replay: ReplayServer, case: str
) -> None:
    start_watching(store, mon_settings, replay)
    assert next_period(store, mon_settings) == []
    assert next_period(store, mon_settings) == []
    assert events(store) == []


def test_a_new_post_is_one_event(
    store: Store, mon_settings: Settings, replay: ReplayServer, case: str, home: Path
) -> None:
    dia, _ = start_watching(store, mon_settings, replay)
    post = replay.world.add_post(dia, "Nouvelles images de Gossi", media=[replay.world.add_image()])
    [event] = next_period(store, mon_settings)
    assert event["kind"] == "post_new" and event["post_id"] == post.id
    assert event["after"]["text"].startswith("Nouvelles images de Gossi")
    assert event["before"] == {} and event["before_capture"] is None
    assert f"/2/users/{dia.id}/tweets" in event["after_capture"]["url"]
    assert post.id.encode() in capture_body(store, home, event["after_capture"])
    assert next_period(store, mon_settings) == []
    assert len(events(store)) == 1


def test_an_edited_post_is_one_event_and_keeps_the_old_text(
    store: Store, mon_settings: Settings, replay: ReplayServer, case: str, home: Path
) -> None:
    dia, _ = start_watching(store, mon_settings, replay)
    target = replay.world.timeline(dia)[2]
    with store.reader() as s:
        old_text = s.execute(select(Post.text).where(Post.platform_id == target.id)).scalar_one()
    replay.world.edit_post(target, "Texte corrigé")
    [event] = next_period(store, mon_settings)
    assert event["kind"] == "post_edited" and event["post_id"] == target.id
    assert event["before"]["text"] == old_text
    assert "Texte corrigé" in event["after"]["text"]
    # the timeline page that first showed it, and the direct look-up that shows the new text
    assert target.id.encode() in capture_body(store, home, event["before_capture"])
    assert "/2/tweets?ids=" in event["after_capture"]["url"]
    assert "Texte corrigé".encode() in capture_body(store, home, event["after_capture"])
    with store.reader() as s:
        texts = (
            s.execute(
                select(PostVersion.text)
                .join(Post)
                .where(Post.platform_id == target.id)
                .order_by(PostVersion.id)
            )
            .scalars()
            .all()
        )
    assert texts[0] == old_text and "Texte corrigé" in texts[1]
    assert next_period(store, mon_settings) == []


def test_a_deleted_post_is_one_event_proved_by_a_direct_lookup(
    store: Store, mon_settings: Settings, replay: ReplayServer, case: str, home: Path
) -> None:
    dia, _ = start_watching(store, mon_settings, replay)
    victim = replay.world.timeline(dia)[1]
    replay.world.delete_post(victim)
    [event] = next_period(store, mon_settings)
    assert event["kind"] == "post_deleted" and event["post_id"] == victim.id
    assert event["before"]["text"] and "Could not find tweet" in event["after"]["reason"]
    assert victim.id.encode() in capture_body(store, home, event["before_capture"])
    assert "/2/tweets?ids=" in event["after_capture"]["url"]
    proof = capture_body(store, home, event["after_capture"])
    assert b"Not Found Error" in proof and victim.id.encode() in proof
    with store.reader() as s:
        deleted_at = s.execute(
            select(Post.deleted_at).where(Post.platform_id == victim.id)
        ).scalar_one()
    assert deleted_at is not None and deleted_at <= utcnow()
    assert next_period(store, mon_settings) == []


def test_a_shorter_timeline_is_not_taken_for_a_deletion(
    store: Store, mon_settings: Settings, replay: ReplayServer, case: str
) -> None:
    dia, _ = start_watching(store, mon_settings, replay, full=True, recheck=0)
    replay.world.delete_post(replay.world.timeline(dia)[0])
    asked = len(replay.requests)
    assert next_period(store, mon_settings) == []  # the whole timeline was read, one post short
    assert any(r.path.endswith("/tweets") for r in replay.requests[asked:])
    with store.reader() as s:
        assert s.execute(select(Post.id).where(Post.deleted_at.is_not(None))).all() == []


def test_a_renamed_account_with_a_new_avatar_is_one_event(
    store: Store, mon_settings: Settings, replay: ReplayServer, case: str, home: Path
) -> None:
    dia, _ = start_watching(store, mon_settings, replay)
    old_avatar = replay.world.media[dia.avatar or ""].data
    new_avatar = replay.world.add_image(40, 40, (250, 250, 0))
    replay.world.update_account(dia, handle="Awa_Traore", display_name="Awa", avatar=new_avatar.id)
    [event] = next_period(store, mon_settings)
    assert event["kind"] == "profile_changed" and event["post_id"] is None
    before, after = event["before"], event["after"]
    assert after["changed"] == ["handle", "display_name", "avatar_sha256"]
    assert (before["handle"], after["handle"]) == ("Dia_Diarra", "Awa_Traore")
    assert (before["display_name"], after["display_name"]) == ("Dia Diarra", "Awa")
    assert before["avatar_sha256"] == hashlib.sha256(old_avatar).hexdigest()
    assert after["avatar_sha256"] == hashlib.sha256(new_avatar.data).hexdigest()
    assert b'"Dia_Diarra"' in capture_body(store, home, event["before_capture"])
    assert b'"Awa_Traore"' in capture_body(store, home, event["after_capture"])
    assert next_period(store, mon_settings) == []


@pytest.mark.parametrize(
    "status,kind,proof",
    [
        ("suspended", "account_suspended", b"User has been suspended"),
        ("protected", "account_protected", b"not authorized"),
        ("deleted", "account_deleted", b"Could not find user"),
    ],
)
def test_an_account_that_goes_away_is_one_event_not_a_failure(
    store: Store,
    mon_settings: Settings,
    replay: ReplayServer,
    case: str,
    home: Path,
    status: str,
    kind: str,
    proof: bytes,
) -> None:
    dia, job_id = start_watching(store, mon_settings, replay)
    replay.world.update_account(dia, status=status)
    [event] = next_period(store, mon_settings)
    assert event["kind"] == kind and event["before"]["status"] == "active"
    assert event["after"]["status"] == ("not_found" if status == "deleted" else status)
    assert proof in capture_body(store, home, event["after_capture"])
    assert b'"Dia_Diarra"' in capture_body(store, home, event["before_capture"])
    with store.reader() as s:
        job = s.get(MonitorJob, job_id)
        assert job is not None
    assert job.last_status == "unavailable" and job.consecutive_failures == 0
    assert (job.next_run_at - utcnow()).total_seconds() > 3000  # its normal schedule
    assert next_period(store, mon_settings) == []
    replay.world.update_account(dia, status="active")
    [back] = next_period(store, mon_settings)
    assert back["kind"] == "account_restored" and back["after"]["status"] == "active"
    assert len(events(store)) == 2


def test_follower_counts_count_beyond_the_threshold_and_drifts_add_up(
    store: Store, mon_settings: Settings, replay: ReplayServer, case: str
) -> None:
    dia, _ = start_watching(store, mon_settings, replay)  # 12 followers, threshold 10%
    replay.world.update_account(dia, followers=13)
    assert next_period(store, mon_settings) == []
    replay.world.update_account(dia, followers=14)
    [event] = next_period(store, mon_settings)
    assert event["kind"] == "profile_changed" and event["after"]["changed"] == ["followers_count"]
    assert (event["before"]["followers_count"], event["after"]["followers_count"]) == (12, 14)
    assert next_period(store, mon_settings) == []


def test_a_job_for_an_account_the_case_holds_starts_from_what_it_holds(
    store: Store, mon_settings: Settings, replay: ReplayServer, case: str
) -> None:
    dia = dia_world(replay.world, posts=5)
    collect_account(store, mon_settings, platform="x", target="dia_diarra", case="c")
    post = replay.world.add_post(dia, "Après la collecte")
    add_job(store, platform="x", target="@Dia_Diarra", case="c", schedule="15m")
    report, seen = run_once(store, mon_settings)
    assert report.completed == 1
    assert [(e["kind"], e["post_id"]) for e in seen] == [("post_new", post.id)]


def test_older_posts_are_rechecked_in_turn(
    store: Store, mon_settings: Settings, replay: ReplayServer, case: str
) -> None:
    dia, _ = start_watching(store, mon_settings, replay, recheck=5)
    for n in range(21):
        replay.world.add_post(dia, f"later {n}")
    assert len(next_period(store, mon_settings)) == 21  # and posts 5-9 were looked up
    old = replay.world.timeline(dia)[22]  # of 30
    replay.world.delete_post(old)
    found_in, asked_ids = [], []
    for period in range(1, 6):
        asked = len(replay.requests)
        seen = next_period(store, mon_settings)
        lookups = [r for r in replay.requests[asked:] if r.path == "/2/tweets"]
        asked_ids.append(sum(len(r.query["ids"].split(",")) for r in lookups))
        found_in += [period for e in seen if e["kind"] == "post_deleted"]
    # the 5 newest each time, and 5 older ones in turn: 10-14, 15-19, 20-24, 25-28, then 5-9
    assert asked_ids == [10, 10, 10, 9, 10]
    assert found_in == [3]
