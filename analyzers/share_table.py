"""The input of co-share detection: one row per share, ids encoded as dense integer codes.

CooRTweet's long "shares" format (``object_id, account_id, content_id, timestamp_share``)
plus an optional modality per row. Ids may be strings or integers; integer ids that are
already small and non-negative (store primary keys) are used as codes directly.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import numpy as np

DEFAULT_MODALITY = "shares"
_MAX_LISTED_ROWS = 5


class CoordinationInputError(ValueError):
    """Shares or parameters that co-share detection cannot use; the message says how to fix it."""


class InvalidParameterError(CoordinationInputError):
    """A detection parameter outside its range (negative window, quantile above 1 ...)."""


class InvalidSharesError(CoordinationInputError):
    """Share rows with missing or unparseable fields (timestamps, ids)."""


def _rows_listing(bad_rows: np.ndarray) -> str:
    listed = ", ".join(str(int(row) + 1) for row in bad_rows[:_MAX_LISTED_ROWS])
    more = (
        f" and {bad_rows.size - _MAX_LISTED_ROWS:,} more"
        if bad_rows.size > _MAX_LISTED_ROWS
        else ""
    )
    return f"row(s) {listed}{more}"


def _parse_one_timestamp(value: Any) -> float:
    if value is None:
        return math.nan
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.timestamp()
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    text = str(value).strip()
    if not text:
        return math.nan
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return math.nan
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def parse_timestamps(values: Sequence[Any] | np.ndarray) -> np.ndarray:
    """Epoch seconds (int64) from numbers, ``datetime64``, datetimes or ISO-8601 strings.

    Naive datetimes are read as UTC; fractions of a second are dropped. Raises
    ``InvalidSharesError`` naming the rows that are missing or cannot be read.
    """
    array = np.asarray(values)
    if np.issubdtype(array.dtype, np.datetime64):
        missing = np.isnat(array)
        seconds = array.astype("datetime64[s]").astype(np.int64)
    elif np.issubdtype(array.dtype, np.integer):
        return array.astype(np.int64)
    else:
        if np.issubdtype(array.dtype, np.floating):
            floats = array.astype(np.float64)
        else:
            floats = np.fromiter(
                (_parse_one_timestamp(v) for v in array.tolist()), np.float64, array.size
            )
        missing = ~np.isfinite(floats)
        seconds = np.floor(np.where(missing, 0.0, floats)).astype(np.int64)
    if missing.any():
        raise InvalidSharesError(
            f"{int(missing.sum()):,} share(s) have a missing or unreadable timestamp "
            f"({_rows_listing(np.flatnonzero(missing))}): give Unix seconds or ISO-8601 times "
            "such as 2022-04-21T09:30:00Z, or drop those rows"
        )
    return seconds


def encode_ids(
    values: Sequence[Any] | np.ndarray, column: str
) -> tuple[np.ndarray, np.ndarray | None]:
    """Dense codes for ``values`` and the label of each code (None: the code is the id)."""
    array = np.asarray(values)
    if array.size and np.issubdtype(array.dtype, np.integer):
        low, high = int(array.min()), int(array.max())
        if low >= 0 and high < 4 * array.size + 2**20:
            return array.astype(np.int64), None
        labels, codes = np.unique(array, return_inverse=True)
        return codes.astype(np.int64), labels
    if array.size and np.issubdtype(array.dtype, np.floating) and np.isnan(array).any():
        bad = np.flatnonzero(np.isnan(array))
        raise InvalidSharesError(f"missing {column} in {_rows_listing(bad)}: every share needs one")
    index: dict[Any, int] = {}
    items = array.tolist()
    codes = np.fromiter(
        (index.setdefault(item, len(index)) for item in items), np.int64, len(items)
    )
    missing = [row for row, item in enumerate(items) if item is None or item == ""]
    if missing:
        raise InvalidSharesError(
            f"missing {column} in {_rows_listing(np.array(missing))}: every share needs one"
        )
    labels = np.empty(len(index), dtype=object)
    labels[:] = list(index)
    return codes, labels


@dataclass(frozen=True)
class ShareTable:
    """Shares as parallel arrays of codes; ``*_labels[code]`` is the original id."""

    object_code: np.ndarray
    account_code: np.ndarray
    content_code: np.ndarray
    timestamp: np.ndarray
    object_labels: np.ndarray | None = None
    account_labels: np.ndarray | None = None
    content_labels: np.ndarray | None = None
    modality_code: np.ndarray | None = None
    modality_names: tuple[str, ...] = (DEFAULT_MODALITY,)
    self_share: np.ndarray | None = None
    object_names: dict[Any, str] = dataclasses.field(default_factory=dict)  # label -> readable name

    def __post_init__(self) -> None:
        sizes = {array.size for array in (self.object_code, self.account_code, self.content_code)}
        if sizes != {self.timestamp.size}:
            raise InvalidSharesError(
                "object, account, content and timestamp columns differ in length"
            )
        for name in ("object_code", "account_code", "content_code"):
            codes = getattr(self, name)
            if codes.size and int(codes.min()) < 0:
                raise InvalidSharesError(f"{name} must be non-negative integer codes")

    def __len__(self) -> int:
        return int(self.timestamp.size)

    @classmethod
    def from_columns(
        cls,
        object_ids: Sequence[Any] | np.ndarray,
        account_ids: Sequence[Any] | np.ndarray,
        content_ids: Sequence[Any] | np.ndarray,
        timestamps: Sequence[Any] | np.ndarray,
        modalities: Sequence[str] | np.ndarray | None = None,
    ) -> ShareTable:
        """Validate and encode CooRTweet-style columns (one modality unless ``modalities``)."""
        lengths = {len(object_ids), len(account_ids), len(content_ids), len(timestamps)}
        if len(lengths) != 1:
            raise InvalidSharesError(f"columns differ in length: {sorted(lengths)}")
        seconds = parse_timestamps(timestamps)
        account_code, account_labels = encode_ids(account_ids, "account_id")
        content_code, content_labels = encode_ids(content_ids, "content_id")
        self_share = np.asarray(object_ids).astype(str) == np.asarray(content_ids).astype(str)
        modality_code: np.ndarray | None = None
        modality_names: tuple[str, ...] = (DEFAULT_MODALITY,)
        if modalities is None:
            object_code, object_labels = encode_ids(object_ids, "object_id")
        else:
            modality_code, names = encode_ids(modalities, "modality")
            modality_code = modality_code.astype(np.int8)
            modality_names = tuple(str(n) for n in (names if names is not None else []))
            keyed = [
                f"{m}\x1f{o}"
                for m, o in zip(
                    np.asarray(modalities).tolist(), np.asarray(object_ids).tolist(), strict=True
                )
            ]
            object_code, keyed_labels = encode_ids(keyed, "object_id")
            assert keyed_labels is not None
            object_labels = np.array(
                [label.split("\x1f", 1)[1] for label in keyed_labels], dtype=object
            )
        return cls(
            object_code,
            account_code,
            content_code,
            seconds,
            object_labels,
            account_labels,
            content_labels,
            modality_code,
            modality_names,
            self_share,
        )

    @classmethod
    def from_codes(
        cls,
        object_ids: np.ndarray,
        account_ids: np.ndarray,
        content_ids: np.ndarray,
        timestamps: np.ndarray,
        modality_code: np.ndarray | None = None,
        modality_names: Sequence[str] = (DEFAULT_MODALITY,),
    ) -> ShareTable:
        """Integer ids (store keys, generated data), used as codes when they are dense enough,
        re-encoded otherwise. Objects of different modalities must already have different ids.
        Timestamps are checked, ids are not."""
        encoded = [
            encode_ids(np.asarray(ids, dtype=np.int64), name)
            for ids, name in (
                (object_ids, "object_id"),
                (account_ids, "account_id"),
                (content_ids, "content_id"),
            )
        ]
        (objects, object_labels), (accounts, account_labels), (contents, content_labels) = encoded
        return cls(
            objects,
            accounts,
            contents,
            parse_timestamps(timestamps),
            object_labels,
            account_labels,
            content_labels,
            modality_code=None if modality_code is None else np.asarray(modality_code, np.int8),
            modality_names=tuple(modality_names),
        )

    def with_self_shares(self, self_share: np.ndarray) -> ShareTable:
        """The same table, with rows whose post is the object itself marked (loops)."""
        return dataclasses.replace(self, self_share=np.asarray(self_share, dtype=bool))

    @cached_property
    def n_objects(self) -> int:
        return _code_space(self.object_code, self.object_labels)

    @cached_property
    def n_accounts(self) -> int:
        return _code_space(self.account_code, self.account_labels)

    @cached_property
    def n_contents(self) -> int:
        return _code_space(self.content_code, self.content_labels)

    def rows_by_modality(self) -> list[np.ndarray]:
        """Row indices of each modality, in ``modality_names`` order."""
        if self.modality_code is None:
            return [np.arange(len(self), dtype=np.int64)]
        order = np.argsort(self.modality_code, kind="stable")
        bounds = np.searchsorted(self.modality_code[order], np.arange(len(self.modality_names) + 1))
        return [order[bounds[i] : bounds[i + 1]] for i in range(len(self.modality_names))]

    def object_labels_of(self, codes: np.ndarray) -> np.ndarray:
        return codes if self.object_labels is None else self.object_labels[codes]

    def account_labels_of(self, codes: np.ndarray) -> np.ndarray:
        return codes if self.account_labels is None else self.account_labels[codes]

    def content_labels_of(self, codes: np.ndarray) -> np.ndarray:
        return codes if self.content_labels is None else self.content_labels[codes]


def _code_space(codes: np.ndarray, labels: np.ndarray | None) -> int:
    if labels is not None:
        return int(labels.size)
    return int(codes.max()) + 1 if codes.size else 0
