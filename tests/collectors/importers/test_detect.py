"""Format detection: each importer's files recognised by content, whatever their names."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from osint.collectors.importers.detect import UnknownFormat, detect
from tests.collectors.importers.io_fixture import IRA_USERS, PART_1, USERS, gzipped, zipped
from tests.collectors.importers.telegram_fixture import export_messages, write_export
from tests.collectors.importers.test_twarc import sample
from tests.conftest import CliRun

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize(
    "path,fmt,detail",
    [
        (PART_1, "x-io", "tweets file, release china_052020, part 1"),
        (USERS, "x-io", "users file, release china_052020"),
        (IRA_USERS, "x-io", "users file, release ira"),  # columns without the user_ prefix
        (
            FIXTURES / "crowdtangle" / "facebook_pages.csv",
            "crowdtangle",
            "Facebook export (40 columns)",
        ),
        (
            FIXTURES / "crowdtangle" / "facebook_groups_historical.csv",
            "crowdtangle",
            "Facebook export (historical data)",
        ),
        (
            FIXTURES / "crowdtangle" / "instagram.csv",
            "crowdtangle",
            "Instagram export (13 columns)",
        ),
        (FIXTURES / "zeeschuimer" / "x.ndjson", "zeeschuimer", "Zeeschuimer capture (twitter.com)"),
        (
            FIXTURES / "zeeschuimer" / "tiktok.ndjson",
            "zeeschuimer",
            "Zeeschuimer capture (tiktok.com)",
        ),
        (
            FIXTURES / "fourcat" / "telegram-dia-diarra.csv",
            "4cat-telegram",
            "4CAT Telegram dataset",
        ),
        (FIXTURES / "fourcat" / "telegram-old-4cat.csv", "4cat-telegram", "4CAT Telegram dataset"),
    ],
)
def test_fixtures_are_recognised(path: Path, fmt: str, detail: str) -> None:
    found = detect(path)
    assert (found.format, found.detail) == (fmt, detail) and found.evidence.startswith("its ")


def test_names_do_not_matter_content_does(tmp_path: Path) -> None:
    renamed = tmp_path / "data.txt"
    shutil.copyfile(FIXTURES / "zeeschuimer" / "x.ndjson", renamed)
    assert detect(renamed).format == "zeeschuimer"
    assert detect(gzipped(PART_1, tmp_path)).format == "x-io"
    assert detect(zipped(tmp_path, "release.zip", PART_1)).detail.startswith("tweets file")


def test_existing_formats(tmp_path: Path, shared_data: Path) -> None:
    twarc = tmp_path / "timeline.jsonl"
    twarc.write_text(sample())
    assert detect(twarc).format == "twarc"
    assert detect(shared_data / "russian_coord_tweets.csv").format == "shares"
    assert detect(shared_data / "german_elections.csv").format == "shares"
    folder = write_export(tmp_path / "ChatExport", export_messages())
    assert detect(folder).format == "telegram-export"
    assert detect(folder / "result.json").format == "telegram-export"


def test_unknown_files_say_what_was_found(tmp_path: Path) -> None:
    csv = tmp_path / "x.csv"
    csv.write_text("when,who,what\n1,2,3\n")
    with pytest.raises(UnknownFormat, match="no importer knows these columns: when, who, what"):
        detect(csv)
    other = tmp_path / "x.json"
    other.write_text(json.dumps({"a": 1}) + "\n")
    with pytest.raises(UnknownFormat, match="JSON whose first line has keys a"):
        detect(other)
    with pytest.raises(UnknownFormat, match=r"folder without result\.json"):
        detect(tmp_path)


def test_auto_import_of_the_existing_formats(
    run_cli: CliRun, tmp_path: Path, shared_data: Path
) -> None:
    run_cli("case", "new", "c")
    twarc = tmp_path / "timeline.jsonl"
    twarc.write_text(sample())
    out = run_cli("import", str(twarc), "--case", "c")
    assert "twarc2 output (twarc), recognised by its data/includes/__twarc keys" in out.stderr
    assert "3 new posts" in out.stdout
    folder = write_export(tmp_path / "ChatExport", export_messages())
    assert "(telegram-export)" in run_cli("import", str(folder), "--case", "c").stderr
    # the existing sub-commands still work as they did
    assert "0 new posts" in run_cli("import", "twarc", str(twarc), "--case", "c").stdout


def test_several_files_go_on_after_a_bad_one(run_cli: CliRun, tmp_path: Path) -> None:
    bad = tmp_path / "x.csv"
    bad.write_text("when,who,what\n1,2,3\n")
    run_cli("case", "new", "c")
    result = run_cli("import", str(bad), str(USERS), "--case", "c", expect=1)
    assert "error: " in result.stderr and "no importer knows these columns" in result.stderr
    assert "11 profile rows" in result.stdout
    assert "1 of 2 files could not be imported" in result.stderr


def test_a_missing_file_is_named(run_cli: CliRun, tmp_path: Path) -> None:
    run_cli("case", "new", "c")
    result = run_cli("import", str(tmp_path / "gone.csv"), "--case", "c", expect=2)
    assert "no such file" in result.stderr and "name the format" not in result.stderr
