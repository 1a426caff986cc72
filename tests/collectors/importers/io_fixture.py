"""Rows of X's information-operations archive, for tests that need more than the fixtures."""

from __future__ import annotations

import csv
import gzip
import shutil
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from osint.collectors.importers.x_io import TWEETS_COLUMNS, X_EPOCH_MS

FIXTURES = Path(__file__).parent / "fixtures" / "x_io"
PART_1 = FIXTURES / "china_052020_tweets_csv_hashed_1.csv"
PART_2 = FIXTURES / "china_052020_tweets_csv_hashed_2.csv"
USERS = FIXTURES / "china_052020_users_csv_hashed.csv"
IRA_TWEETS = FIXTURES / "ira_tweets_csv_hashed.csv"
IRA_USERS = FIXTURES / "ira_users_csv_hashed.csv"


def snowflake(when: datetime, sequence: int = 0) -> int:
    return ((int(when.timestamp() * 1000) - X_EPOCH_MS) << 22) | sequence


def tweet_row(tweetid: int | str, userid: str, when: datetime, **cells: Any) -> dict[str, Any]:
    """A tweets-file row with the archive's defaults (floats for counts, absent coordinates)."""
    row: dict[str, Any] = {column: "" for column in TWEETS_COLUMNS}
    row.update(
        tweetid=str(tweetid), userid=userid, user_display_name=userid, user_screen_name=userid,
        follower_count="10.0", following_count="20.0", account_creation_date="2019-06-01",
        account_language="fr", tweet_language="fr", tweet_text="bonjour",
        tweet_time=f"{when.astimezone(UTC):%Y-%m-%d %H:%M}", tweet_client_name="Twitter Web App",
        is_retweet="False", latitude="absent", longitude="absent", quote_count="0.0",
        reply_count="0.0", like_count="0.0", retweet_count="0.0", hashtags="[]", urls="[]",
        user_mentions="[]",
    )  # fmt: skip
    row.update(cells)
    return row


def write_tweets(
    path: Path, rows: list[dict[str, Any]], columns: tuple[str, ...] = TWEETS_COLUMNS
) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def gzipped(source: Path, folder: Path) -> Path:
    target = folder / f"{source.name}.gz"
    with source.open("rb") as raw, gzip.open(target, "wb") as out:
        shutil.copyfileobj(raw, out)
    return target


def zipped(folder: Path, name: str, *sources: Path) -> Path:
    target = folder / name
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for source in sources:
            archive.write(source, arcname=f"{target.stem}/{source.name}")
    return target


def data_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def authors(path: Path) -> set[str]:
    return {row["userid"] for row in data_rows(path)}
