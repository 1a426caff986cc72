"""Structured post content (``Post.content``) in words, for the report and the terminal.

One line per item, from the typed dicts the collectors write (:mod:`collectors.x`,
:mod:`collectors.telegram`): a poll and its options, a place, a file with its size and length,
a voice note, a sticker's emoji, a round video, X's withheld notice.
"""

from __future__ import annotations

from typing import Any


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, int):
        return ""
    minutes, sec = divmod(seconds, 60)
    return f"{minutes}:{sec:02d}"


def describe(item: dict[str, Any]) -> str:
    """One line saying what the item is (never raises on odd input)."""
    kind = str(item.get("type", "item"))
    if kind == "poll":
        options = []
        for option in item.get("options") or []:
            label = option.get("text") or option.get("label") or "?"
            share = (
                option.get("votes") if option.get("votes") is not None else option.get("percent")
            )
            unit = " votes" if option.get("votes") is not None else "%"
            options.append(f"{label} ({share}{unit})" if share is not None else str(label))
        question = f"{item['question']}: " if item.get("question") else ""
        return f"poll: {question}{'; '.join(options)}"
    if kind == "place":
        where = item.get("full_name") or item.get("name") or ""
        if item.get("address"):
            where = f"{where}, {item['address']}" if where else str(item["address"])
        if item.get("lat") is not None and item.get("lon") is not None:
            where = f"{where} ({item['lat']}, {item['lon']})".strip()
        return f"place: {where or item.get('place_id') or '?'}"
    if kind in ("document", "audio"):
        size = f", {item['extra']}" if item.get("extra") else ""
        return f"{kind}: {item.get('file_name') or '(no name)'}{size}"
    if kind in ("voice", "round_video"):
        label = "voice note" if kind == "voice" else "round video"
        return f"{label} {_duration(item.get('duration'))}".strip()
    if kind == "sticker":
        return f"sticker {item.get('emoji') or ''}".strip()
    if kind == "withheld":
        return f"withheld in {', '.join(item.get('country_codes') or []) or '?'}"
    return kind
