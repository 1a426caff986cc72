"""The store's vocabularies are StrEnums that serialise as the very strings stored before."""

from __future__ import annotations

import json

import orjson
import pytest

from osint.storage.kinds import AnalysisStatus, PostKind, RunKind, RunStatus


@pytest.mark.parametrize("member", [*PostKind, *RunKind, *RunStatus, *AnalysisStatus])
def test_a_member_is_its_stored_string(
    member: PostKind | RunKind | RunStatus | AnalysisStatus,
) -> None:
    assert member == member.value
    assert type(member)(member.value) is member  # an old row's string reads back as the member
    assert json.dumps(member) == orjson.dumps(member).decode() == f'"{member.value}"'
    assert f"{member}" == member.value  # in messages and file names too


def test_the_vocabularies_are_the_ones_the_columns_held() -> None:
    assert {k.value for k in PostKind} == {"post", "repost", "reply", "quote", "share"}
    assert {k.value for k in RunKind} == {"collect", "import", "monitor"}
    assert {s.value for s in RunStatus} >= {"running", "completed", "failed", "interrupted"}
    assert {s.value for s in AnalysisStatus} == {"running", "done"}  # analysis_runs.status
