"""4CAT's Telegram CSV: channels, forwards, groups, Unix times (never the formatted ones)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from osint.collectors.importers import ImportProblem
from osint.collectors.importers.files import open_members
from osint.collectors.importers.fourcat_telegram import read_fourcat_telegram
from osint.storage.db import Store
from osint.storage.models import CollectionRun, Post, SharedObject
from osint.storage.records import PostRecord
from tests.conftest import CliRun

FIXTURES = Path(__file__).parent / "fixtures" / "fourcat"
DATASET = FIXTURES / "telegram-dia-diarra.csv"
OLD = FIXTURES / "telegram-old-4cat.csv"


def _read(path: Path) -> list[object]:
    return [item for member in open_members(path) for item in read_fourcat_telegram(member)]


def test_channel_posts_forwards_and_a_group() -> None:
    items = _read(DATASET)
    posts = {p.platform_id: p for p in items if isinstance(p, PostRecord)}
    problems = [i for i in items if isinstance(i, ImportProblem)]
    assert [(p.line, p.message) for p in problems] == [
        (11, "unix_timestamp 'not-a-time' is not a Unix time")
    ]
    source = posts["dia_diarra_news/101"]
    # unix_timestamp, not the server-local "timestamp" two hours ahead
    assert source.created_at == datetime(2022, 4, 21, 8, tzinfo=UTC)
    assert source.account.platform_id == "dia_diarra_news" and source.metrics == {"views": 1520}
    assert source.links == ["https://sahel-verite.example/gossi"] and source.hashtags == ["Gossi"]
    assert source.url == "https://t.me/dia_diarra_news/101"
    forward = posts["sahel_patriotes/40"]
    assert forward.kind == "repost" and forward.repost_of == "dia_diarra_news"
    assert forward.objects == [("repost", "telegram:dia_diarra_news@1650528000")]
    assert forward.extra["forwarded_from"]["original_time"] == "2022-04-21T08:00:00+00:00"
    photo = posts["sahel_patriotes/41"]
    assert photo.mentions == ["dia_diarra_news"] and photo.extra["attachment_type"] == "photo"
    reply = posts["bamako_debat/8"]
    assert reply.kind == "reply" and reply.reply_to == "bamako_debat/7"
    assert reply.account.platform_id == "5987654321" and reply.account.handle == "traore_m"
    assert reply.extra["edited_at"] == "2022-04-21T09:02:40+00:00"


def test_older_4cat_columns() -> None:
    (post,) = [i for i in _read(OLD) if isinstance(i, PostRecord)]
    assert post.platform_id == "wagner_z/55" and post.kind == "repost"
    assert post.created_at == datetime(2022, 4, 21, 8, 5, tzinfo=UTC)
    assert post.objects == [("repost", "telegram:sahel patriotes@1650528030")]


def test_import_and_co_forwarding(run_cli: CliRun, store: Store) -> None:
    run_cli("case", "new", "c")
    out = run_cli("import", str(DATASET), str(OLD), "--case", "c")
    assert "4CAT Telegram dataset (4cat-telegram)" in out.stderr
    assert "9 new posts" in out.stdout and "1 problems" in out.stdout
    assert "0 new posts" in run_cli("import", "4cat-telegram", str(DATASET), "--case", "c").stdout
    with store.reader() as s:
        assert s.scalar(select(func.count()).select_from(Post)) == 10
        forwards = s.execute(
            select(func.count())
            .select_from(SharedObject)
            .where(SharedObject.key == "telegram:dia_diarra_news@1650528000")
        ).scalar_one()
        run = s.execute(select(CollectionRun).order_by(CollectionRun.id)).scalars().first()
    assert forwards == 1 and run is not None and run.platform == "4cat-telegram"
    pairs = run_cli("analyze", "coordination", "--case", "c", "--window", "60").stdout
    assert "  repost: 3 pairs" in pairs  # three channels forwarding one message within a minute


def test_not_4cat_telegram(run_cli: CliRun, tmp_path: Path) -> None:
    path = tmp_path / "4cat.csv"
    path.write_text("id,thread_id,body,timestamp\n1,t,hello,2022-01-01 10:00:00\n")
    run_cli("case", "new", "c")
    result = run_cli("import", "4cat-telegram", str(path), "--case", "c", expect=2)
    assert "missing column(s) unix_timestamp, author_forwarded_from_name" in result.stderr
    assert "found: id, thread_id, body, timestamp" in result.stderr
