"""A run's resume state reads old rows and writes back the same JSON."""

from __future__ import annotations

from osint.storage.runstate import RunState

COLLECT_ROW = {
    "since_id": "1700000000000000001",
    "cursor": "c-42",
    "newest_id": "1700000000000000999",
    "pages": 3,
    "posts": 250,
    "complete": False,
    "pid": 4242,
    "host": "laptop",
    "resumes": 1,
    "account": "12345",
}


def test_a_collect_row_round_trips() -> None:
    state = RunState.from_dict(COLLECT_ROW)
    assert (state.cursor, state.pages, state.posts, state.complete) == ("c-42", 3, 250, False)
    assert state.to_dict() == COLLECT_ROW


def test_an_import_row_stays_an_import_row() -> None:
    row = {"pid": 7, "host": "box"}
    assert RunState.from_dict(row).to_dict() == row
    assert RunState(pid=7, host="box").to_dict() == row


def test_unknown_keys_and_nulls_of_old_rows() -> None:
    old = {"cursor": None, "newest_id": None, "pages": "2", "future_key": [1, 2]}
    state = RunState.from_dict(old)
    assert state.cursor is None and state.pages == 2
    assert state.to_dict() == {"pages": 2, "future_key": [1, 2]}  # nulls left out, rest kept
    assert RunState.from_dict(None) == RunState()


def test_replace_leaves_the_committed_state_alone() -> None:
    committed = RunState.from_dict(COLLECT_ROW)
    page = committed.replace(cursor=None, pages=4)
    assert committed.cursor == "c-42" and committed.pages == 3
    assert page.to_dict() == {**{k: v for k, v in COLLECT_ROW.items() if k != "cursor"}, "pages": 4}
