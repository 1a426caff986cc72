"""Real twarc2 files that hold no tweets (twarc-csv's test data, MIT): one clear line a page."""

from __future__ import annotations

from pathlib import Path

import pytest

from osint import imports
from osint.cases import create_case
from osint.collectors.importers import ImportProblem
from osint.collectors.importers.twarc import read_twarc
from osint.config import Settings
from osint.errors import InputError
from osint.storage.db import Store

DATA = Path(__file__).parent / "data" / "twarc-csv"


def problems(name: str) -> list[str]:
    with (DATA / name).open("rb") as fh:
        items = list(read_twarc(fh))
    assert all(isinstance(i, ImportProblem) for i in items)
    return [str(i) for i in items]


def test_list_pages_are_named_once_each() -> None:
    assert problems("lists.jsonl") == [
        "line 1: a page of 4 lists, not tweets: skipped",
        "line 2: a page of 2 lists, not tweets: skipped",
    ]


def test_compliance_results_are_named() -> None:
    assert problems("tweets_compliance.jsonl") == [
        "line 2: a compliance result (delete, protected) for 1170025343920402432, not a tweet: "
        "skipped",
        "line 3: a compliance result (delete, deactivated) for 1170147183095664640, not a "
        "tweet: skipped",
    ]


def test_importing_only_lists_fails_with_that_line(store: Store, settings: Settings) -> None:
    create_case(store, "c")
    with pytest.raises(InputError, match=r"2 of 2 rows are problems; the first: line 1: a page"):
        imports.import_twarc(store, settings, case="c", path=DATA / "lists.jsonl")
