"""Monitoring is platform-neutral: Telegram, Bluesky and Mastodon report their changes too."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import pytest

from osint.config import Settings
from osint.demo.replay import ReplayServer
from osint.monitor import JobOptions, add_job
from osint.storage.db import Store
from tests.demo.replay.worlds import dia_world
from tests.monitor.conftest import make_due, run_once
from tests.monitor.test_changes import capture_body
from tests.test_collect_platforms import BY_NAME


@pytest.mark.parametrize("name", ["telegram", "bluesky", "mastodon"])
def test_new_edited_and_deleted_posts_on_other_platforms(
    store: Store,
    mon_settings: Settings,
    replay: ReplayServer,
    case: str,
    home: Path,
    name: str,
) -> None:
    platform = BY_NAME[name]
    dia = dia_world(replay.world, posts=6, platform=name)
    add_job(
        store,
        platform=name,
        target=platform.target,
        case="c",
        schedule="1h",
        options=JobOptions(recheck=20),
    )
    first, baseline = run_once(store, mon_settings)
    assert first.completed == 1 and baseline == []
    timeline = [p for p in replay.world.timeline(dia) if p.kind == "post"]
    edited, deleted = timeline[1], timeline[3]
    replay.world.edit_post(edited, "Texte corrigé")
    replay.world.delete_post(deleted)
    new = replay.world.add_post(dia, "Nouveau message")
    make_due(store)
    report, seen = run_once(store, mon_settings)
    assert report.completed == 1, report
    by_kind = {e["kind"]: e for e in seen}
    assert sorted(by_kind) == ["post_deleted", "post_edited", "post_new"] and len(seen) == 3
    assert by_kind["post_new"]["after"]["text"].startswith("Nouveau message")
    assert "Texte corrigé" in by_kind["post_edited"]["after"]["text"]
    gone = by_kind["post_deleted"]
    # the look-up response that answered for this very post proves it gone
    proof = capture_body(store, home, gone["after_capture"])
    assert gone["post_id"] and gone["before"]["text"] and proof
    assert deleted.id.rsplit("/", 1)[-1] in unquote(gone["after_capture"]["url"])
    assert by_kind["post_new"]["post_id"].endswith(new.id)  # Mastodon: HOST/ID
    make_due(store)
    assert run_once(store, mon_settings)[1] == []
