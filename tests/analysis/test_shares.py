"""Reading a case's shares out of the store: every row, aligned, whatever path the reader takes."""

from __future__ import annotations

import numpy as np
import pytest

from bench._store import bulk_load
from osint.analysis import shares
from osint.analysis.shares import load_share_table
from osint.storage.db import Store
from tests.scenarios import generate_share_arrays


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
    monkeypatch.setattr(shares, "SQLITE_ROWID_CHUNK", 97)
    if not packed:  # ids above 2**31 travel unpacked, four numbers per row
        monkeypatch.setattr(shares, "_fits_32_bits", lambda session: False)
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
