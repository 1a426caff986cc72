from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from storage.models import CollectionRun, Post, PostObject
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
