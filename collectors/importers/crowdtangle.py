"""CrowdTangle's CSV exports of Facebook pages and groups, and of Instagram accounts.

Meta closed CrowdTangle in August 2024; its exports remain in investigators' archives.

- **Facebook** (the dashboard's "Download" and Historical Data, 39 columns from ``Page Name``
  or ``Group Name``: ``User Name, Facebook Id, Page Category, Page Admin Top Country, Page
  Description, Page Created, Likes at Posting, Followers at Posting, Post Created, Post Created
  Date, Post Created Time, Type, Total Interactions, Likes, Comments, Shares, Love, Wow, Haha,
  Sad, Angry, Care, Video Share Status, Is Video Owner?, Post Views, Total Views, Total Views For
  All Crossposts, Video Length, URL, Message, Link, Final Link, Image Text, Link Text,
  Description, Sponsor Id, Sponsor Name, Sponsor Category``, then an ``Overperforming Score
  (weighted ...)`` column). The older historical-data export has ``Created`` for ``Post
  Created`` and fewer columns.
- **Instagram** (13 columns: ``Account, User Name, Followers at Posting, Post Created, Type,
  Likes, Comments, Views, URL, Link, Photo, Title, Description``; later exports add more).

``Post Created`` is ``2021-07-06 16:45:20 EDT``: the time in the timezone the exporting user had
chosen, with its abbreviation, read here into UTC (:data:`ZONES`; an abbreviation not listed
there is reported and the post skipped rather than placed at a wrong hour). Counts may carry
thousands separators (``1,234``). A post's link (``Final Link``, else ``Link``) and the text
CrowdTangle read in its image (``Image Text``, kept in ``extra["image_text"]``) are what posts
share with each other: the importer keys them as ``url``/``domain`` and ``image_text``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from osint.collectors.importers import ImportProblem
from osint.collectors.importers.csvrows import (
    ColumnsError,
    parse_count,
    read_header,
    require_columns,
    rows,
)
from osint.collectors.importers.files import TextMember
from osint.storage.records import AccountRecord, MediaRef, PostRecord, ProfileRecord

FACEBOOK_COLUMNS = (
    "Page Name", "User Name", "Facebook Id", "Page Category", "Page Admin Top Country",
    "Page Description", "Page Created", "Likes at Posting", "Followers at Posting",
    "Post Created", "Post Created Date", "Post Created Time", "Type", "Total Interactions",
    "Likes", "Comments", "Shares", "Love", "Wow", "Haha", "Sad", "Angry", "Care",
    "Video Share Status", "Is Video Owner?", "Post Views", "Total Views",
    "Total Views For All Crossposts", "Video Length", "URL", "Message", "Link", "Final Link",
    "Image Text", "Link Text", "Description", "Sponsor Id", "Sponsor Name", "Sponsor Category",
)  # fmt: skip
INSTAGRAM_COLUMNS = (
    "Account", "User Name", "Followers at Posting", "Post Created", "Type", "Likes",
    "Comments", "Views", "URL", "Link", "Photo", "Title", "Description",
)  # fmt: skip
FACEBOOK_REQUIRED = ("Facebook Id", "URL")
INSTAGRAM_REQUIRED = ("Account", "User Name", "URL", "Photo")
TIME_COLUMNS = ("Post Created", "Created")
FACEBOOK_METRICS = (
    "Likes", "Comments", "Shares", "Love", "Wow", "Haha", "Sad", "Angry", "Care", "Thankful",
    "Total Interactions", "Post Views", "Total Views", "Total Views For All Crossposts",
)  # fmt: skip
INSTAGRAM_METRICS = ("Likes", "Comments", "Views", "Total Interactions")
# The abbreviations CrowdTangle wrote (the zones its users chose); ambiguous ones (IST, CST in
# China) are read the way CrowdTangle's own time-zone list meant them.
ZONES = {
    "UTC": 0, "GMT": 0, "WET": 0, "WEST": 1, "BST": 1, "CET": 1, "CEST": 2, "EET": 2,
    "EEST": 3, "MSK": 3, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6,
    "PST": -8, "PDT": -7, "AKST": -9, "AKDT": -8, "HST": -10, "AST": -4, "ADT": -3,
    "NST": -3.5, "NDT": -2.5, "IST": 5.5, "PKT": 5, "WIB": 7, "ICT": 7, "SGT": 8, "HKT": 8,
    "JST": 9, "KST": 9, "AEST": 10, "AEDT": 11, "ACST": 9.5, "ACDT": 10.5, "AWST": 8,
    "NZST": 12, "NZDT": 13, "SAST": 2, "WAT": 1, "CAT": 2, "EAT": 3, "BRT": -3, "ART": -3,
}  # fmt: skip
_TIME = re.compile(
    r"^(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2})?)\s*([A-Za-z]{2,5}|[+-]\d{2}:?\d{2})?$"
)
_HASHTAG = re.compile(r"#(\w+)")
_MENTION = re.compile(r"(?<![\w@])@([\w.]+)")


def platform_of(header: list[str]) -> str | None:
    """``facebook`` or ``instagram`` when the header is a CrowdTangle export's, else None."""
    names = set(header)
    has_time = any(c in names for c in TIME_COLUMNS)
    if has_time and "Facebook Id" in names and ({"Page Name", "Group Name"} & names):
        return "facebook"
    if has_time and {"Account", "User Name", "Followers at Posting", "Photo"} <= names:
        return "instagram"
    return None


def parse_created(value: str) -> datetime:
    """``2021-07-06 16:45:20 EDT`` (or an offset, or no zone: UTC) as UTC."""
    match = _TIME.match(value.strip())
    if match is None:
        raise ValueError(f"not a time: {value[:40]!r}")
    when, zone = match.groups()
    parsed = datetime.fromisoformat(when.replace("T", " "))
    if zone is None:
        return parsed.replace(tzinfo=UTC)
    if zone[0] in "+-":
        return datetime.fromisoformat(f"{when}{zone}").astimezone(UTC)
    hours = ZONES.get(zone.upper())
    if hours is None:
        raise ValueError(f"unknown time zone {zone!r} in {value[:40]!r}")
    return parsed.replace(tzinfo=timezone(timedelta(hours=hours))).astimezone(UTC)


def read_crowdtangle(member: TextMember) -> Iterator[PostRecord | ProfileRecord | ImportProblem]:
    """The posts (and, per account, the profile at its first post) of a CrowdTangle CSV."""
    reader, header = read_header(member)
    platform = platform_of(header)
    if platform is None:
        instagram = "Account" in header or "Photo" in header
        require_columns(
            header,
            (*(INSTAGRAM_REQUIRED if instagram else FACEBOOK_REQUIRED), "Post Created"),
            "a CrowdTangle export",
            expected=INSTAGRAM_COLUMNS if instagram else FACEBOOK_COLUMNS,
        )
        raise ColumnsError(
            "not a CrowdTangle export: no Page Name or Group Name column; "
            f"found: {', '.join(header)}; expected: {', '.join(FACEBOOK_COLUMNS)}"
        )
    col = {name: i for i, name in enumerate(header)}
    time_col = next(c for c in TIME_COLUMNS if c in col)
    seen: set[str] = set()
    for item in rows(member, reader, len(header)):
        if isinstance(item, ImportProblem):
            yield item
            continue
        line, cells = item
        row = _Row(cells, col)
        try:
            created = parse_created(row.get(time_col))
        except ValueError as exc:
            yield ImportProblem(line, f"{time_col}: {exc}")
            continue
        post = (_facebook if platform == "facebook" else _instagram)(row, created, line)
        if post is None:
            yield ImportProblem(line, "no URL or account: not a post")
            continue
        if post.account.platform_id not in seen:
            if len(seen) < 1_000_000:
                seen.add(post.account.platform_id)
            yield _profile(row, post.account, platform)
        yield post


class _Row:
    def __init__(self, cells: list[str], col: dict[str, int]) -> None:
        self.cells, self.col = cells, col

    def get(self, name: str) -> str:
        index = self.col.get(name)
        return self.cells[index].strip() if index is not None else ""

    def counts(self, names: tuple[str, ...]) -> dict[str, int]:
        found = {}
        for name in names:
            value = parse_count(self.get(name))
            if value is not None:
                found[name.lower().replace(" ", "_")] = value
        return found


def _post_number(url: str) -> str | None:
    """The post's own id in its URL (``.../posts/123``, ``/permalink/123/``, ``/p/SHORTCODE/``)."""
    parts = [p for p in url.split("?")[0].split("#")[0].split("/") if p]
    return parts[-1] if len(parts) >= 3 else None


def _facebook(row: _Row, created: datetime, line: int) -> PostRecord | None:
    url, page_id = row.get("URL"), row.get("Facebook Id")
    number = _post_number(url)
    if not url or not page_id or number is None:
        return None
    account = AccountRecord(
        "facebook",
        page_id,
        handle=row.get("User Name") or None,
        display_name=row.get("Page Name") or row.get("Group Name") or None,
        created_at=_page_created(row.get("Page Created")),
    )
    link = row.get("Final Link") or row.get("Link")
    text = row.get("Message")
    extra = _extra(row, line, ("Type", "Link", "Link Text", "Description", "Video Length",
                               "Video Share Status", "Is Video Owner?", "Sponsor Id",
                               "Sponsor Name", "Sponsor Category", "Image Text"))  # fmt: skip
    post = PostRecord(
        platform="facebook",
        platform_id=f"{page_id}_{number}",
        account=account,
        created_at=created,
        text=text,
        url=url,
        links=[link] if link.startswith(("http://", "https://")) else [],
        hashtags=list(dict.fromkeys(_HASHTAG.findall(text))),
        metrics=row.counts(FACEBOOK_METRICS) | _score(row),
        extra=extra,
    )
    return post


def _instagram(row: _Row, created: datetime, line: int) -> PostRecord | None:
    url, user = row.get("URL"), row.get("User Name")
    shortcode = _post_number(url)
    if not url or not user or shortcode is None:
        return None
    account = AccountRecord(
        "instagram", user.lower(), handle=user, display_name=row.get("Account") or None
    )
    text = row.get("Description")
    link = row.get("Link")
    photo = row.get("Photo")
    post = PostRecord(
        platform="instagram",
        platform_id=shortcode,
        account=account,
        created_at=created,
        text=text,
        url=url,
        links=[link] if link.startswith(("http://", "https://")) and link != url else [],
        hashtags=list(dict.fromkeys(_HASHTAG.findall(text))),
        mentions=list(dict.fromkeys(_MENTION.findall(text))),
        metrics=row.counts(INSTAGRAM_METRICS) | _score(row),
        extra=_extra(row, line, ("Type", "Title", "Image Text", "Sponsor Id", "Sponsor Name")),
        media=[MediaRef(photo, kind="photo")] if photo.startswith(("http://", "https://")) else [],
    )
    return post


def _profile(row: _Row, account: AccountRecord, platform: str) -> ProfileRecord:
    extra: dict[str, Any] = {"source": "crowdtangle"}
    for name in ("Page Category", "Page Admin Top Country"):
        if value := row.get(name):
            extra[name.lower().replace(" ", "_")] = value
    likes = parse_count(row.get("Likes at Posting"))
    if likes is not None:
        extra["likes_at_posting"] = likes
    return ProfileRecord(
        account=account,
        bio=row.get("Page Description") or None,
        url=f"https://www.{platform}.com/{account.handle}" if account.handle else None,
        followers_count=parse_count(row.get("Followers at Posting")),
        extra=extra,
    )


def _extra(row: _Row, line: int, names: tuple[str, ...]) -> dict[str, Any]:
    extra: dict[str, Any] = {"source": "crowdtangle", "line": line}
    for name in names:
        if (value := row.get(name)) and value != "N/A":
            extra[name.lower().replace(" ", "_").rstrip("?")] = value
    return extra


def _score(row: _Row) -> dict[str, Any]:
    """The overperforming score, whose column name carries its weights."""
    for name, index in row.col.items():
        if name.startswith(("Overperforming Score", "Score")):
            value = row.cells[index].strip()
            try:
                return {"overperforming_score": float(value.replace(",", ""))} if value else {}
            except ValueError:
                return {}
    return {}


def _page_created(value: str) -> datetime | None:
    try:
        return parse_created(value) if value else None
    except ValueError:
        return None
