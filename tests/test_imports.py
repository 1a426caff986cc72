from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from osint.storage.models import CollectionRun, Media, Post, PostMedia, PostObject, SharedObject
from tests.collectors.importers.telegram_fixture import (
    export_messages,
    photo_with_exif,
    png_bomb,
    write_export,
)
from tests.conftest import CliRun


def test_import_shares_cli_idempotent_and_with_provenance(
    run_cli: CliRun, store, tmp_path: Path
) -> None:
    csv = tmp_path / "shares.csv"
    csv.write_text(
        "object_id,account_id,content_id,timestamp_share\n"
        "o1,a1,c1,1650530000\no1,a2,c2,1650530030\nbad,row\no2,a1,c3,1650531000\n"
    )
    run_cli("case", "new", "c")
    out = run_cli("import", "shares", str(csv), "--case", "c").stdout
    assert "3 new posts" in out and "1 problems" in out
    again = run_cli("import", "shares", str(csv), "--case", "c").stdout
    assert "0 new posts" in again and "3 already known" in again
    with store.reader() as s:
        assert s.execute(select(func.count()).select_from(Post)).scalar_one() == 3
        assert s.execute(select(func.count()).select_from(PostObject)).scalar_one() == 3
        runs = s.execute(select(CollectionRun).order_by(CollectionRun.id)).scalars().all()
        posts = s.execute(select(Post)).scalars().all()
    assert [r.status for r in runs] == ["completed", "completed"]
    assert runs[0].errors == ["line 4: expected 4 columns, found 2"]
    assert all(p.capture_id is not None for p in posts)
    # the imported file is kept as evidence, addressed by its hash
    assert store.media.read(runs[0].params["sha256"]) == csv.read_bytes()


def test_import_into_unknown_case(run_cli: CliRun, tmp_path: Path) -> None:
    csv = tmp_path / "s.csv"
    csv.write_text("object_id,account_id,content_id,timestamp_share\n")
    assert "no case named" in run_cli("import", "shares", str(csv), "--case", "x", expect=2).stderr


def test_import_missing_file(run_cli: CliRun, tmp_path: Path) -> None:
    run_cli("case", "new", "c")
    result = run_cli("import", "shares", str(tmp_path / "nope.csv"), "--case", "c", expect=2)
    assert "no such file" in result.stderr


def test_import_wrong_columns(run_cli: CliRun, tmp_path: Path) -> None:
    csv = tmp_path / "s.csv"
    csv.write_text("a,b\n1,2\n")
    run_cli("case", "new", "c")
    assert (
        "no account column" in run_cli("import", "shares", str(csv), "--case", "c", expect=2).stderr
    )


def test_import_real_coortweet_dataset(run_cli: CliRun, shared_data: Path, store) -> None:
    run_cli("case", "new", "ru")
    run_cli(
        "import",
        "shares",
        str(shared_data / "russian_coord_tweets.csv"),
        "--case",
        "ru",
        "--modality",
        "repost",
    )
    with store.reader() as s:
        assert s.execute(select(func.count()).select_from(Post)).scalar_one() == 35_085
        # 35,125 rows; one row is an exact duplicate of another
        assert s.execute(select(func.count()).select_from(PostObject)).scalar_one() == 35_124


# -- Telegram Desktop export ---------------------------------------------------------------
def _telegram_rows(store) -> tuple[dict, dict, list]:
    with store.reader() as s:
        posts = {p.platform_id.split("/")[1]: p for p in s.execute(select(Post)).scalars()}
        media = {m.sha256: m for m in s.execute(select(Media)).scalars()}
        links = s.execute(select(PostMedia).order_by(PostMedia.post_id)).scalars().all()
    return posts, media, links


def test_import_telegram_export_cli(run_cli: CliRun, store, tmp_path: Path) -> None:
    export = write_export(tmp_path / "ChatExport_2022-04-21")
    run_cli("case", "new", "mali")
    result = run_cli("import", "telegram-export", str(export), "--case", "mali")
    # the three refused photos are notes: their messages were imported without them
    assert "10 new posts" in result.stdout and "0 problems; 3 imported in part" in result.stdout
    assert "message 6: imported without its photo '../outside.jpg'" in result.stderr
    assert "2 media files" in result.stdout  # one photo used twice, one broken file
    assert "photos/corrupt.jpg: truncated" in result.stderr
    posts, media, links = _telegram_rows(store)
    assert len(posts) == 10
    assert posts["4"].kind == "repost" and posts["5"].kind == "reply"
    good = next(m for m in media.values() if m.status == "ok" and m.mime == "image/jpeg")
    assert (good.width, good.height) == photo_with_exif(tmp_path / "again.jpg")
    assert good.exif["make"] == "Canon" and good.exif["modified_at"] == "2022-04-21T09:58:00"
    broken = next(m for m in media.values() if m.status != "ok")
    assert broken.status == "truncated" and "ends before the picture" in broken.note
    assert store.media.read(good.sha256) == (export / "photos" / good_name()).read_bytes()
    by_post = {link.post_id: link for link in links}
    assert by_post[posts["3"].id].media_id == good.id == by_post[posts["11"].id].media_id
    for refused in ("6", "7", "8"):  # imported, without the file they pointed at
        assert by_post[posts[refused].id].media_id is None and by_post[posts[refused].id].error
    assert b"secret bytes" not in b"".join(store.media.read(sha) for sha in media)
    with store.reader() as s:
        run = s.execute(select(CollectionRun)).scalar_one()
        keys = set(s.execute(select(SharedObject.modality, SharedObject.key)).all())
    assert run.status == "completed" and run.counts["media_files"] == 2
    assert any("message 6: imported without its photo '../outside.jpg'" in e for e in run.errors)
    assert {("hashtag", "mali"), ("url", "https://example.org/gossi")} <= keys
    again = run_cli("import", "telegram-export", str(export / "result.json"), "--case", "mali")
    assert "0 new posts, 10 already known" in again.stdout
    assert _telegram_rows(store)[1].keys() == media.keys()


def good_name() -> str:
    return "photo_1@21-04-2022_12-01-00.jpg"


def test_telegram_decompression_bomb_is_flagged_not_decoded(
    run_cli: CliRun, store, tmp_path: Path
) -> None:
    messages = [m for m in export_messages() if m["id"] == 2]
    messages[0]["photo"] = "photos/bomb.png"
    export = write_export(tmp_path / "export", messages)
    (export / "photos" / "bomb.png").write_bytes(png_bomb())
    run_cli("case", "new", "c")
    result = run_cli("import", "telegram-export", str(export), "--case", "c")
    assert "1 new posts" in result.stdout
    _, media, links = _telegram_rows(store)
    (bomb,) = media.values()
    assert bomb.status == "bomb" and "196000000 pixels" in bomb.note
    assert bomb.width is None  # never decoded: Pillow refuses before reading further
    assert links[0].media_id == bomb.id


def test_telegram_truncated_export_keeps_what_came_before(
    run_cli: CliRun, store, tmp_path: Path
) -> None:
    export = write_export(tmp_path / "export")
    raw = (export / "result.json").read_bytes()
    (export / "result.json").write_bytes(raw[: raw.index(b'"id": 5')])
    run_cli("case", "new", "c")
    result = run_cli("import", "telegram-export", str(export), "--case", "c", expect=2)
    assert "breaks off after message 4" in result.stderr and "Traceback" not in result.stderr
    posts, _, _ = _telegram_rows(store)
    assert sorted(posts) == ["2", "3", "4"]
    with store.reader() as s:
        run = s.execute(select(CollectionRun)).scalar_one()
    assert run.status == "failed" and "breaks off" in run.errors[-1]


def test_telegram_export_folder_without_result_json(run_cli: CliRun, tmp_path: Path) -> None:
    run_cli("case", "new", "c")
    result = run_cli("import", "telegram-export", str(tmp_path), "--case", "c", expect=2)
    assert "no result.json" in result.stderr


def test_fewer_gc_pauses_collects_about_once_per_batch_and_still_collects_cycles() -> None:
    import gc

    from osint.imports import BATCH, YOUNG_OBJECTS_PER_COLLECTION, fewer_gc_pauses

    before = gc.get_threshold()
    young: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 0:
            young.append(1)

    gc.callbacks.append(count)
    try:
        with fewer_gc_pauses():
            assert gc.isenabled()
            assert gc.get_threshold()[0] == YOUNG_OBJECTS_PER_COLLECTION
            # a batch of records in flight: about 30 containers a post, all alive at once
            batch = [[[i], {"i": i}, (i, [i])] for i in range(BATCH * 5)]
            assert not young, "a collection walked the batch in flight"
            del batch
            cycle: list[object] = []
            cycle.append(cycle)
            del cycle
            assert gc.collect() >= 1  # garbage with cycles is still found
    finally:
        gc.callbacks.remove(count)
    assert gc.get_threshold() == before
