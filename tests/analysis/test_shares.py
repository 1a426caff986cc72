"""Reading a case's shares out of the store: every row, aligned, whatever path the reader takes."""

from __future__ import annotations

import numpy as np
import pytest

from osint.analysis.shares import load_share_table
from osint.analyzers.coordination import detect_groups
from osint.analyzers.share_table import ShareTable
from osint.storage import sharecolumns
from osint.storage.db import Store
from osint.synth.planted import generate_share_arrays
from osint.synth.sharestore import bulk_load


def _rows(objects: np.ndarray, accounts: np.ndarray, posts: np.ndarray, times: np.ndarray) -> set:
    return set(
        zip(objects.tolist(), accounts.tolist(), posts.tolist(), times.tolist(), strict=True)
    )


@pytest.mark.parametrize("packed", [True, False])
def test_load_share_table_reads_every_row_aligned(
    store: Store, monkeypatch: pytest.MonkeyPatch, packed: bool
) -> None:
    other = bulk_load(store, "other", generate_share_arrays(300, seed=2, n_viral_bursts=1))
    generated = generate_share_arrays(2_000, seed=3, n_viral_bursts=1)
    case_id = bulk_load(store, "bench", generated)
    # Small rowid ranges: many chunks, some holding only the other case's rows.
    monkeypatch.setattr(sharecolumns, "SQLITE_ROWID_CHUNK", 97)
    if not packed:  # ids above 2**31 travel unpacked, four numbers per row
        monkeypatch.setattr(sharecolumns, "_fits_32_bits", lambda session: False)
    with store.reader() as session:
        table = load_share_table(session, case_id)
        other_table = load_share_table(session, other)
    assert len(table) == len(generated) and len(other_table) == 300
    objects = table.object_labels_of(table.object_code)
    accounts = table.account_labels_of(table.account_code)
    posts = table.content_labels_of(table.content_code)
    # bulk_load gives store ids = code + a base per table (the other case's rows come first)
    base_object, base_account, base_post = objects.min(), accounts.min(), posts.min()
    expected = _rows(
        generated.object_code + base_object - generated.object_code.min(),
        generated.account_code + base_account - generated.account_code.min(),
        generated.content_code + base_post - generated.content_code.min(),
        generated.timestamp,
    )
    assert _rows(objects, accounts, posts, table.timestamp) == expected
    assert base_post > int(other_table.content_labels_of(other_table.content_code).max())


def test_times_before_1970_and_after_2106_keep_their_object(store: Store) -> None:
    """Times outside 32 unsigned bits travel unpacked (they once spilled into the object id)."""
    before, after = -2_000_000_000, 5_000_000_000  # 1906 and 2128
    generated = ShareTable.from_codes(
        np.array([0, 0, 1, 1, 2, 2]),
        np.array([0, 1, 0, 1, 0, 1]),
        np.arange(6),
        np.array([before, before + 5, after, after + 7, 1_600_000_000, 1_600_000_009]),
    )
    case_id = bulk_load(store, "old-and-future", generated)
    with store.reader() as session:
        table = load_share_table(session, case_id)
    objects = table.object_labels_of(table.object_code)
    by_time = dict(zip(table.timestamp.tolist(), objects.tolist(), strict=True))
    first = int(objects.min())
    assert by_time == {
        before: first, before + 5: first, after: first + 1, after + 7: first + 1,
        1_600_000_000: first + 2, 1_600_000_009: first + 2,
    }  # fmt: skip
    pairs = detect_groups(table, 10, 1)
    paired = table.object_labels_of(pairs.object_code) - first
    assert sorted(zip(paired.tolist(), pairs.time_delta.tolist(), strict=True)) == [
        (0, 5), (1, 7), (2, 9)
    ]  # fmt: skip
