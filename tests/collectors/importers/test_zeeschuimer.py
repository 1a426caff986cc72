"""Zeeschuimer NDJSON: X (GraphQL and adaptive captures) and TikTok items."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from osint.collectors.importers import ImportProblem
from osint.collectors.importers.files import open_members
from osint.collectors.importers.zeeschuimer import read_zeeschuimer
from osint.storage.db import Store
from osint.storage.models import Account, AccountSnapshot, CollectionRun, Post, SharedObject
from osint.storage.records import PostRecord, ProfileRecord
from tests.conftest import CliRun

FIXTURES = Path(__file__).parent / "fixtures" / "zeeschuimer"
X_ITEMS = FIXTURES / "x.ndjson"
TIKTOK = FIXTURES / "tiktok.ndjson"


def _read(path: Path) -> list[object]:
    return [item for member in open_members(path) for item in read_zeeschuimer(member)]


def test_x_items() -> None:
    items = _read(X_ITEMS)
    posts = {p.platform_id: p for p in items if isinstance(p, PostRecord)}
    problems = [i for i in items if isinstance(i, ImportProblem)]
    profiles = [i for i in items if isinstance(i, ProfileRecord)]
    assert [p.line for p in problems] == [7, 8]
    assert "instagram.com item" in problems[0].message and "cut short" in problems[1].message
    assert len(posts) == 6 and len(profiles) == 3  # one per author
    original = posts["1517000000000000001"]
    assert original.account.platform_id == "1276543210" and original.account.handle == "SahelInfo"
    assert original.created_at == datetime(2022, 4, 21, 8, 0, 3, tzinfo=UTC)
    assert original.client == "TweetDeck" and original.metrics["impression_count"] == 1520
    assert original.links == ["https://sahel-verite.example/gossi"] and original.hashtags == [
        "Gossi"
    ]
    assert original.media[0].source_url == "https://pbs.twimg.com/media/FQxGossiAAA.jpg"
    assert original.media[0].alt_text == "Des corps près de la base de Gossi"
    assert original.url == "https://x.com/SahelInfo/status/1517000000000000001"
    assert original.extra["zeeschuimer"]["collected_at"] == "2022-04-22T08:00:01+00:00"
    assert "SearchTimeline" in original.extra["zeeschuimer"]["source_url"]
    retweet = posts["1517000000000000011"]  # the retweeted tweet wrapped in visibility results
    assert retweet.kind == "repost" and retweet.repost_of == "1517000000000000001"
    assert posts["1517000000000000012"].repost_of == "1517000000000000001"
    assert posts["1517000000000000013"].kind == "reply"
    assert posts["1517000000000000013"].mentions == ["SahelInfo"]
    assert posts["1517000000000000014"].quote_of == "1517000000000000001"
    adaptive = posts["1517000000000000015"]
    assert adaptive.account.handle == "dia_diarra" and adaptive.hashtags == ["FranceDehors"]
    assert adaptive.client == "Twitter Web App"
    new_layout = next(p for p in profiles if p.account.platform_id == "1511000000000000002")
    assert new_layout.account.handle == "mali_debout" and new_layout.location == "Bamako"
    assert new_layout.account.created_at == datetime(2022, 4, 16, 9, tzinfo=UTC)
    assert new_layout.avatar_url and new_layout.followers_count == 122


def test_tiktok_items() -> None:
    items = _read(TIKTOK)
    posts = [i for i in items if isinstance(i, PostRecord)]
    profiles = [i for i in items if isinstance(i, ProfileRecord)]
    assert not [i for i in items if isinstance(i, ImportProblem)]
    first, embedded = posts
    assert first.platform == "tiktok" and first.account.platform_id == "6801234567890123456"
    assert first.account.handle == "sahel.tv" and first.hashtags == ["gossi", "mali"]
    assert first.created_at == datetime(2022, 4, 21, 8, tzinfo=UTC)
    assert first.url == "https://www.tiktok.com/@sahel.tv/video/7089012345678901234"
    assert first.metrics == {
        "like_count": 1520, "comment_count": 88, "share_count": 310, "play_count": 41000,
        "collect_count": 12,
    }  # fmt: skip
    assert first.mentions == ["malidebout223"] and first.extra["music"]["original"] is True
    assert first.extra["image_text"] == "LA VÉRITÉ SUR GOSSI"
    assert first.media[0].platform_key == "cover"
    # the page's embedded state: author by name, its id beside it; createTime as a string
    assert embedded.account.platform_id == "6712345678901234567"
    assert embedded.account.display_name == "Mali Debout"
    assert embedded.created_at == datetime(2022, 4, 21, 8, 0, 42, tzinfo=UTC)
    assert profiles[0].bio == "Le Mali aux Maliens 🇲🇱" and profiles[1].followers_count == 2300


def test_import_detects_and_stores_with_provenance(run_cli: CliRun, store: Store) -> None:
    run_cli("case", "new", "c")
    out = run_cli("import", str(X_ITEMS), str(TIKTOK), "--case", "c")
    assert "Zeeschuimer capture (twitter.com) (zeeschuimer)" in out.stderr
    assert "Zeeschuimer capture (tiktok.com) (zeeschuimer)" in out.stderr
    assert "6 new posts" in out.stdout and "2 problems" in out.stdout
    assert "0 new posts" in run_cli("import", "zeeschuimer", str(X_ITEMS), "--case", "c").stdout
    with store.reader() as s:
        assert s.scalar(select(func.count()).select_from(Post)) == 8
        platforms = set(s.execute(select(Account.platform)).scalars())
        stickers = (
            s.execute(select(SharedObject.key).where(SharedObject.modality == "image_text"))
            .scalars()
            .all()
        )
        reposts = (
            s.execute(select(SharedObject.key).where(SharedObject.modality == "repost"))
            .scalars()
            .all()
        )
        place = s.execute(
            select(AccountSnapshot.location).join(Account).where(Account.handle == "dia_diarra")
        ).scalar_one()
        run = s.execute(select(CollectionRun).order_by(CollectionRun.id)).scalars().first()
    assert platforms == {"x", "tiktok"} and stickers == ["la vérité sur gossi"]
    assert reposts == ["x:1517000000000000001"]  # the key osint collect x writes too
    assert place == "Bamako, Mali" and run is not None and run.platform == "zeeschuimer"


def test_not_zeeschuimer_json(run_cli: CliRun, tmp_path: Path) -> None:
    path = tmp_path / "export.ndjson"
    path.write_text('{"hello": "world"}\n')
    run_cli("case", "new", "c")
    result = run_cli("import", str(path), "--case", "c", expect=2)
    assert "JSON whose first line has keys hello" in result.stderr
    assert "Zeeschuimer NDJSON (item_id, source_platform, data" in result.stderr
    forced = run_cli("import", "zeeschuimer", str(path), "--case", "c", expect=2)
    assert (
        "nothing could be imported" in forced.stderr and "not a Zeeschuimer item" in forced.stderr
    )
