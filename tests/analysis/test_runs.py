"""Coordination runs in the store: arrays split in parts, large runs, changed data."""

from __future__ import annotations

import io
from collections import Counter

import numpy as np
import pytest
from sqlalchemy import delete, func, select

from osint.analysis import runs
from osint.analysis.coordination_pass import CoordinationOptions, analyze_coordination
from osint.analysis.export import export_pairs
from osint.cases import get_case
from osint.errors import InputError
from osint.storage.db import Store
from osint.storage.models import AnalysisRunData, PostObject
from osint.synth.planted import generate_share_arrays
from osint.synth.sharestore import bulk_load

OPTIONS = CoordinationOptions(window=60, min_participation=2)


def _pairs_csv(store: Store, run: int | None = None) -> Counter:
    out = io.StringIO()
    export_pairs(store, "runs", out, run=run)
    return Counter(out.getvalue().splitlines()[1:])


def test_arrays_cut_in_parts_read_back_whole(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    bulk_load(store, "runs", generate_share_arrays(8_000, seed=4, n_viral_bursts=1))
    whole = analyze_coordination(store, "runs", OPTIONS)
    expected = _pairs_csv(store)
    assert sum(expected.values()) == whole.pairs > 300
    monkeypatch.setattr(runs, "PART_BYTES", 4_096)
    again = analyze_coordination(store, "runs", OPTIONS)
    with store.reader() as session:
        parts = session.scalar(select(func.count()).where(AnalysisRunData.run_id == again.run_id))
    assert parts and parts > 4
    assert _pairs_csv(store, again.run_id) == expected == _pairs_csv(store, whole.run_id)


def test_a_run_too_large_to_keep_its_pairs_is_recomputed_with_its_own_parameters(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    bulk_load(store, "runs", generate_share_arrays(8_000, seed=5, n_viral_bursts=1))
    kept = analyze_coordination(store, "runs", OPTIONS)
    expected = _pairs_csv(store)
    monkeypatch.setattr(runs, "MAX_STORED_PAIRS", 10)
    large = analyze_coordination(store, "runs", OPTIONS)
    with store.reader() as session:
        assert not session.scalar(
            select(func.count()).where(AnalysisRunData.run_id == large.run_id)
        )
    assert _pairs_csv(store) == expected  # the run's 60 s window, not the default 300 s
    assert _pairs_csv(store, kept.run_id) == expected
    bulk_load(store, "more", generate_share_arrays(300, seed=6, n_viral_bursts=1))
    assert _pairs_csv(store) == expected  # another case's import changes nothing here
    with store.session() as session:
        case_id = get_case(session, "runs").id
        victim = session.scalar(
            select(func.max(PostObject.post_id)).where(PostObject.case_id == case_id)
        )
        session.execute(delete(PostObject).where(PostObject.post_id == victim))
    with pytest.raises(InputError, match="changed since it ran"):
        _pairs_csv(store, large.run_id)
    assert _pairs_csv(store, kept.run_id) == expected  # a stored run still reads back
    assert np.isfinite(large.seconds)
