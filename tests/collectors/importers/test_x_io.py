"""X's information-operations archive: tweets and users files, releases, precision, bad input."""

from __future__ import annotations

import gzip
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from osint.analysis.timeline_pass import _profiles
from osint.collectors.importers import ImportProblem
from osint.collectors.importers.files import open_members
from osint.collectors.importers.x_io import (
    ReleaseFile,
    read_io_archive,
    read_io_file,
    release_of,
)
from osint.config import Settings
from osint.storage.db import Store
from osint.storage.models import (
    Account,
    AccountSnapshot,
    Capture,
    CollectionRun,
    Finding,
    FindingEvidence,
    Post,
    PostObject,
    PostVersion,
    SharedObject,
)
from osint.storage.records import PostRecord, ProfileRecord, text_sha256
from tests.collectors.importers.io_fixture import (
    IRA_TWEETS,
    IRA_USERS,
    PART_1,
    PART_2,
    USERS,
    authors,
    data_rows,
    gzipped,
    snowflake,
    tweet_row,
    write_tweets,
    zipped,
)
from tests.conftest import CliRun

BIG = "1276543210"  # the fixture's account above 5,000 followers (unhashed id)
PART_1_TWEETS, PART_2_TWEETS = len(data_rows(PART_1)), len(data_rows(PART_2))
TWEETS = PART_1_TWEETS + PART_2_TWEETS


def _items(path: Path, **options: object) -> list[object]:
    return list(read_io_file(path, **options))  # type: ignore[arg-type]


def _count(store: Store, model: object, *where: object) -> int:
    with store.reader() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]


def test_release_of_reads_the_names_x_gives_its_files() -> None:
    assert release_of("china_052020_tweets_csv_hashed_2.csv") == ReleaseFile(
        "china_052020", "tweets", 2
    )
    assert release_of("russia_201901_1_tweets_csv_hashed.csv") == ReleaseFile(
        "russia_201901", "tweets", 1
    )
    assert release_of("saudi_arabia_112019_users_csv_hashed.csv.gz") == ReleaseFile(
        "saudi_arabia_112019", "users", None
    )
    assert release_of("ira_tweets_csv_unhashed.zip") == ReleaseFile("ira", "tweets", None)
    assert release_of("tweets.csv") is None


def test_tweets_file_records() -> None:
    items = _items(PART_1)
    posts = [i for i in items if isinstance(i, PostRecord)]
    profiles = [i for i in items if isinstance(i, ProfileRecord)]
    assert not [i for i in items if isinstance(i, ImportProblem)]
    assert len(posts) == PART_1_TWEETS
    # one profile per account, before its first post
    assert len(profiles) == len({p.account.platform_id for p in posts})
    first = posts[0]
    assert (
        first.account.platform_id == f"china_052020:{BIG}" and first.account.handle == "sahel_info"
    )
    assert first.links == ["https://sahel-verite.example/gossi"] and first.hashtags == ["Gossi"]
    assert first.client == "TweetDeck" and first.extra["geo"] == ["16.82", "-1.93"]
    # the exact time comes from the tweet id and falls in tweet_time's minute
    assert first.time_precision is None
    assert f"{first.created_at:%Y-%m-%d %H:%M}" == first.extra["tweet_time"]
    assert first.created_at.second == 3 and first.created_at.microsecond == 250_000
    reply = next(p for p in posts if p.kind == "reply")
    assert reply.reply_to == first.platform_id and reply.mentions == [f"china_052020:{BIG}"]
    assert reply.extra["in_reply_to_userid"] == f"china_052020:{BIG}"
    retweet = next(p for p in posts if p.kind == "repost")
    assert retweet.repost_of and retweet.text.startswith("RT @sahel_info")
    assert retweet.metrics.keys() == {"quote_count", "reply_count", "like_count", "retweet_count"}
    big = next(p for p in profiles if p.account.handle == "sahel_info")
    assert big.location == "Niamey" and big.followers_count == 52_000
    assert big.account.created_at == datetime(2014, 2, 20, tzinfo=UTC)


def test_old_release_minute_times_bare_word_lists_and_unprefixed_users() -> None:
    posts = [i for i in _items(IRA_TWEETS) if isinstance(i, PostRecord)]
    assert {p.time_precision for p in posts} == {"minute"}  # ids older than snowflakes
    assert posts[0].hashtags == ["tcot", "p2"] and posts[0].kind == "repost"
    assert posts[0].created_at == datetime(2009, 11, 3, 14, 5, tzinfo=UTC)
    users = [i for i in _items(IRA_USERS) if isinstance(i, ProfileRecord)]
    assert len(users) == 3 and users[0].location == "USA" and users[0].bio
    assert users[0].account.platform_id.startswith("ira:") and users[0].account.created_at


def test_tweet_time_only_keeps_the_minute() -> None:
    posts = [i for i in _items(PART_1, exact_times=False) if isinstance(i, PostRecord)]
    assert {p.time_precision for p in posts} == {"minute"}
    assert {p.created_at.second for p in posts} == {0}


def test_import_both_parts_and_users_file(run_cli: CliRun, store: Store) -> None:
    run_cli("case", "new", "c")
    first = run_cli("import", str(PART_1), str(PART_2), "--case", "c")
    assert "tweets file, release china_052020, part 1 (x-io)" in first.stderr
    assert "recognised by its columns tweetid, userid, tweet_time" in first.stderr
    assert f"{PART_1_TWEETS} new posts" in first.stdout
    assert f"{PART_2_TWEETS} new posts" in first.stdout
    assert "no users file of this release in the case yet" in first.stderr
    users = run_cli("import", str(USERS), "--case", "c")
    assert "users file, release china_052020 (x-io)" in users.stderr
    assert "1 accounts of the users file have no tweets" in users.stderr
    assert "1 tweet authors are not in the users file" in users.stderr
    assert _count(store, Post) == TWEETS
    assert _count(store, Account) == 12  # 11 authors and the account that never tweeted
    with store.reader() as s:
        accounts = s.execute(select(Account.platform_id)).scalars().all()
        runs = s.execute(select(CollectionRun).order_by(CollectionRun.id)).scalars().all()
        captures = s.execute(select(Capture.sha256)).scalars().all()
        clients = set(s.execute(select(Post.client)).scalars())
    assert all(a.startswith("china_052020:") for a in accounts)
    assert [r.platform for r in runs] == ["x-io"] * 3
    assert runs[0].params["members"] == [
        {"name": PART_1.name, "release": "china_052020", "kind": "tweets"}
    ]
    for run, path in zip(runs, (PART_1, PART_2, USERS), strict=True):
        assert store.media.read(run.params["sha256"]) == path.read_bytes()
    assert len(set(captures)) == 3
    assert {"TweetDeck", "dlvr.it", "Twitter for Android"} <= clients
    again = run_cli("import", "x-io", str(PART_1), str(PART_2), str(USERS), "--case", "c")
    assert again.stdout.count("0 new posts") == 3 and _count(store, Post) == TWEETS
    assert "0 new profile snapshots" in again.stdout


def test_claimed_place_and_creation_date_feed_the_timeline(
    run_cli: CliRun, store: Store, tmp_path: Path
) -> None:
    """An account claiming Bamako that sleeps on Moscow's hours; amplifiers created in a week."""
    start = datetime(2020, 3, 2, tzinfo=UTC)
    rows = []
    for day in range(12):
        for hour in (5, 7, 9, 11, 13, 15, 17, 19):  # 08:00-22:00 in Moscow, 05-19 in Bamako
            when = start + timedelta(days=day, hours=hour, minutes=13, seconds=day)
            rows.append(
                tweet_row(
                    snowflake(when, len(rows)), "mali_patriote", when,
                    user_reported_location="Bamako, Mali",
                    tweet_text=f"Le Mali se lève {day} {hour}",
                )
            )  # fmt: skip
    path = write_tweets(tmp_path / "sahel_032020_tweets_csv_hashed.csv", rows)
    run_cli("case", "new", "c")
    run_cli("import", str(path), str(PART_1), str(PART_2), "--case", "c")
    with store.reader() as s:
        case_id = 1
        profiles = {p.handle: p for p in _profiles(s, case_id).values()}
        assert profiles["mali_patriote"].location == "Bamako, Mali"
        assert profiles["sahel_info"].created_at == int(
            datetime(2014, 2, 20, tzinfo=UTC).timestamp()
        )
    out = run_cli("analyze", "--case", "c", "--window", "60").stdout
    assert "1 coordinated group(s)" in out
    with store.reader() as s:
        findings = {f.kind: f for f in s.execute(select(Finding)).scalars()}
    assert "Bamako" in findings["timezone_mismatch"].explanation
    assert "4 of the 4 accounts" in findings["creation_burst"].explanation


def test_coordination_runs_on_the_release(run_cli: CliRun, store: Store) -> None:
    run_cli("case", "new", "c")
    run_cli("import", str(PART_1), str(PART_2), str(USERS), "--case", "c")
    out = run_cli("analyze", "coordination", "--case", "c", "--window", "60").stdout
    assert "1 coordinated group(s)" in out
    for modality in ("repost", "url", "hashtag"):
        assert f"  {modality}: " in out
    with store.reader() as s:
        group = s.execute(select(Finding).where(Finding.kind == "coordinated_group")).scalar_one()
        members = (
            s.execute(
                select(Account.created_at_platform)
                .join(FindingEvidence, FindingEvidence.account_id == Account.id)
                .where(FindingEvidence.finding_id == group.id)
                .distinct()
            )
            .scalars()
            .all()
        )
        reposted = (
            s.execute(select(SharedObject.key).where(SharedObject.modality == "repost"))
            .scalars()
            .all()
        )
    # the four amplifiers (created in January 2020), none of the background accounts
    assert len(members) == 4 and {m.strftime("%Y-%m") for m in members} == {"2020-01"}
    assert all(key.startswith("x:") for key in reposted) and len(reposted) == 6


def test_windows_shorter_than_a_minute_on_minute_times(run_cli: CliRun, store: Store) -> None:
    run_cli("case", "new", "ira")
    out = run_cli("import", str(IRA_TWEETS), "--case", "ira").stderr
    assert "9 posts keep tweet_time's minute resolution" in out
    assert _count(store, Post, Post.time_precision == "minute") == 9
    refused = run_cli("analyze", "coordination", "--case", "ira", "--window", "30", expect=2)
    assert "shorter than the minute resolution" in refused.stderr
    assert "use --window 60 or more" in refused.stderr
    allowed = run_cli("analyze", "coordination", "--case", "ira", "--window", "60")
    assert "up to 59 s further apart than the 60 s window" in allowed.stderr
    # a case mixing exact and minute times: warned, not refused
    run_cli("import", str(PART_1), str(PART_2), "--case", "ira")
    mixed = run_cli("analyze", "coordination", "--case", "ira", "--window", "30")
    assert f"9 of the case's {TWEETS + 9} posts have minute-resolution times" in mixed.stderr


def test_gzip_zip_and_a_cut_short_gzip(run_cli: CliRun, store: Store, tmp_path: Path) -> None:
    run_cli("case", "new", "c")
    packed = zipped(tmp_path, "china_052020.zip", USERS, PART_1)
    out = run_cli("import", str(packed), "--case", "c")
    assert "tweets file, release china_052020, part 1" in out.stderr  # the first member, by name
    assert "new posts" in out.stdout and _count(store, Post) == PART_1_TWEETS
    gz = gzipped(PART_2, tmp_path)
    run_cli("import", str(gz), "--case", "c")
    assert _count(store, Post) == PART_1_TWEETS + PART_2_TWEETS
    assert _count(store, Account) == 12  # the users file's 11, one author it misses
    # a gzip cut in its middle: what came before the break is imported, and the break named
    (tmp_path / "cut").mkdir()
    whole = gzipped(PART_1, tmp_path / "cut")
    cut = tmp_path / "cut" / "china_082020_tweets_csv_hashed.csv.gz"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    run_cli("case", "new", "cut")
    result = run_cli("import", str(cut), "--case", "cut")
    assert "breaks off" in result.stderr
    kept = _count(store, Post, Post.case_id == 2)
    assert 0 < kept < PART_1_TWEETS and f"{kept} new posts" in result.stdout


def test_a_zip_without_its_central_directory_is_read_from_its_start(tmp_path: Path) -> None:
    packed = zipped(tmp_path, "china_052020.zip", PART_1)
    data = packed.read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(data[: data.rfind(b"PK\x01\x02")])  # the member whole, the directory gone
    items = _items(cut)
    assert len([i for i in items if isinstance(i, PostRecord)]) == PART_1_TWEETS


def test_wrong_or_missing_columns_name_what_was_found(run_cli: CliRun, tmp_path: Path) -> None:
    run_cli("case", "new", "c")
    bad = tmp_path / "china_052020_tweets_csv_hashed.csv"
    bad.write_text("tweetid,userid,text\n1,2,3\n")
    result = run_cli("import", "x-io", str(bad), "--case", "c", expect=2)
    assert "missing column(s) tweet_time" in result.stderr
    assert "found: tweetid, userid, text" in result.stderr
    assert "expected: tweetid, userid, user_display_name" in result.stderr
    unknown = tmp_path / "what.csv"
    unknown.write_text("a,b,c\n1,2,3\n")
    result = run_cli("import", str(unknown), "--case", "c", expect=2)
    assert "no importer knows these columns: a, b, c" in result.stderr
    assert "X information-operations archive (tweetid, userid, tweet_time" in result.stderr


def test_bad_cells_are_reported_and_nothing_is_lost(
    run_cli: CliRun, store: Store, tmp_path: Path
) -> None:
    when = datetime(2020, 5, 1, 10, 30, 12, tzinfo=UTC)
    rows = [
        tweet_row(snowflake(when, 1), "u1", when, hashtags="{'not': 'a list'}"),
        tweet_row(snowflake(when, 2), "u2", when, tweet_time="yesterday at noon"),
        tweet_row(snowflake(when, 3), "u3", when, account_creation_date="2019-13-45"),
        tweet_row("5400000000", "u4", when, tweet_time="soon"),  # no time anywhere: skipped
        tweet_row("not-an-id", "u5", when),
        tweet_row(snowflake(when, 6), "u6", when, urls="['https://a.example/x', [1]]"),
    ]
    path = write_tweets(tmp_path / "test_052020_tweets_csv_hashed.csv", rows)
    with path.open("a") as fh:
        fh.write('1,"unclosed\n')  # the file ends inside a quoted cell
    run_cli("case", "new", "c")
    result = run_cli("import", str(path), "--case", "c")
    # 7 rows: 4 imported (each with a part refused or repaired: notes) and 3 problems
    assert "4 new posts" in result.stdout and "3 problems; 4 imported in part" in result.stdout
    with store.reader() as s:
        run = s.execute(select(CollectionRun)).scalar_one()
        u1 = s.execute(select(Post).where(Post.platform_id == str(snowflake(when, 1)))).scalar_one()
        u2 = s.execute(select(Post).where(Post.platform_id == str(snowflake(when, 2)))).scalar_one()
        u3 = s.execute(select(Account).where(Account.handle == "u3")).scalar_one()
    errors = "\n".join(run.errors)
    assert "line 2: hashtags is not a list" in errors and u1.hashtags == []
    assert u1.extra["unread"]["hashtags"] == "{'not': 'a list'}"
    assert "line 3: tweet_time 'yesterday at noon' is not a time: taken from the tweet id" in errors
    assert u2.created_at == when and u2.time_precision is None
    assert "line 4: account_creation_date" in errors and u3.created_at_platform is None
    assert "line 5: tweet_time 'soon' is not a time and the id holds none" in errors
    assert "line 6: tweetid 'not-an-id' is not a tweet id" in errors
    assert "line 7: urls is not a list" in errors
    assert (
        "line 8: expected 31 cells, found 2 (a quote left open, or the file cut short?)" in errors
    )


def test_a_file_with_nothing_to_import_fails(run_cli: CliRun, tmp_path: Path) -> None:
    when = datetime(2009, 5, 1, tzinfo=UTC)
    path = write_tweets(
        tmp_path / "test_052020_tweets_csv_hashed.csv",
        [tweet_row("5400000000", "u1", when, tweet_time="never")],
    )
    run_cli("case", "new", "c")
    result = run_cli("import", str(path), "--case", "c", expect=2)
    assert "nothing could be imported" in result.stderr
    assert "1 of 1 rows are problems" in result.stderr
    header_only = write_tweets(tmp_path / "empty_052020_tweets_csv_hashed.csv", [])
    assert (
        "nothing could be imported"
        in run_cli("import", "x-io", str(header_only), "--case", "c", expect=2).stderr
    )


def test_users_file_first_then_tweets(run_cli: CliRun, store: Store) -> None:
    run_cli("case", "new", "c")
    users = run_cli("import", str(USERS), "--case", "c")
    assert "a users file without its tweets file" in users.stderr
    assert "11 profile rows, 11 new profile snapshots" in users.stdout
    with store.reader() as s:
        silent = s.execute(
            select(AccountSnapshot.location).join(Account).where(Account.handle == "sahel_info")
        ).scalar_one()
    assert silent == "Niamey"
    tweets = run_cli("import", str(PART_1), str(PART_2), "--case", "c")
    assert "tweet authors are not in the users file" in tweets.stderr


def test_releases_never_merge_accounts(run_cli: CliRun, store: Store, tmp_path: Path) -> None:
    """The same file under a second release: separate accounts, one copy of each tweet."""
    other = tmp_path / "china_082020_tweets_csv_hashed.csv"
    shutil.copyfile(PART_1, other)
    run_cli("case", "new", "c")
    run_cli("import", str(PART_1), "--case", "c")
    result = run_cli("import", str(other), "--case", "c")
    n = PART_1_TWEETS
    assert f"0 new posts, {n} already known, {n} problems" in result.stdout
    shared = len(authors(PART_1))
    assert f"releases china_082020 and china_052020 both use {shared} userids" in result.stderr
    assert "1 of them are unhashed X ids, the same real accounts" in result.stderr
    with store.reader() as s:
        run = s.execute(select(CollectionRun).order_by(CollectionRun.id.desc())).scalars().first()
    assert run is not None
    assert "is already in the case as a post of account china_052020:" in run.errors[0]
    assert "this file has it from china_082020:" in run.errors[0]
    assert _count(store, Account) == 2 * shared and _count(store, Post) == n


def test_release_must_be_named_when_the_file_name_does_not(
    run_cli: CliRun, store: Store, tmp_path: Path
) -> None:
    renamed = tmp_path / "tweets.csv"
    shutil.copyfile(PART_1, renamed)
    run_cli("case", "new", "c")
    refused = run_cli("import", str(renamed), "--case", "c", expect=2)
    assert "cannot tell the release" in refused.stderr and "--release" in refused.stderr
    run_cli("import", str(renamed), "--case", "c", "--release", "China_052020")
    with store.reader() as s:
        ids = s.execute(select(Account.platform_id)).scalars().all()
    assert ids and all(i.startswith("china_052020:") for i in ids)


def test_reading_in_a_child_gives_the_same_items(tmp_path: Path) -> None:
    from osint.import_reader import read_keyed

    serial = list(read_keyed("x-io", PART_1, in_child=False))
    child = list(read_keyed("x-io", PART_1, in_child=True))
    # the same kinds of item in the same places (a post from the child is a WirePost)
    kinds = (PostRecord, ProfileRecord, ImportProblem)

    def kind(item: object) -> str:
        return next(k.__name__ for k in kinds if isinstance(item, k))

    assert [kind(i) for i in child] == [kind(i) for i in serial]
    posts = [i for i in child if isinstance(i, PostRecord)]
    assert posts == [i for i in serial if isinstance(i, PostRecord)]
    assert posts[0].objects and posts[0].client == "TweetDeck"


def test_content_keys_index_the_release(run_cli: CliRun, store: Store) -> None:
    run_cli("case", "new", "c")
    run_cli("import", str(PART_1), str(PART_2), "--case", "c")
    with store.reader() as s:
        modalities = set(
            s.execute(
                select(SharedObject.modality).join(
                    PostObject, PostObject.object_id == SharedObject.id
                )
            ).scalars()
        )
    assert {"repost", "url", "domain", "hashtag", "text"} <= modalities


@pytest.mark.parametrize("encoding_break", [b"\xff\xfe"])
def test_bytes_that_are_not_utf8_are_named(tmp_path: Path, encoding_break: bytes) -> None:
    data = PART_1.read_bytes().splitlines(keepends=True)
    data[2] = data[2].replace(b"Twitter", encoding_break + b"Twitter", 1)
    path = tmp_path / "china_052020_tweets_csv_hashed_1.csv"
    path.write_bytes(b"".join(data))
    for member in open_members(path):
        items = list(read_io_archive(member, release="china_052020"))
    problems = [i for i in items if isinstance(i, ImportProblem)]
    assert [p.line for p in problems] == [3] and "not UTF-8" in problems[0].message
    assert len([i for i in items if isinstance(i, PostRecord)]) == PART_1_TWEETS


def test_a_cut_short_gzip_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    source = gzipped(PART_1, tmp_path)
    data = source.read_bytes()
    (tmp_path / "cut").mkdir()
    cut = tmp_path / "cut" / "china_052020_tweets_csv_hashed_1.csv.gz"
    cut.write_bytes(data[: int(len(data) * 0.7)])
    items = _items(cut)
    assert isinstance(items[-1], ImportProblem) and "breaks off" in items[-1].message
    assert 0 < len([i for i in items if isinstance(i, PostRecord)]) < PART_1_TWEETS
    with gzip.open(source) as fh:
        assert fh.read() == PART_1.read_bytes()


def test_a_repaired_tweet_is_named_by_its_line_and_stored_as_repaired(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    from osint import import_datasets
    from osint.cases import create_case

    when = datetime(2020, 5, 1, 10, 30, 12, tzinfo=UTC)
    rows = [tweet_row(snowflake(when, i), "u1", when) for i in range(3)]
    rows[1]["tweet_text"] = "a NUL\x00 in it"
    rows[1]["user_mentions"] = "['bad\x00name']"
    path = write_tweets(tmp_path / "test_052020_tweets_csv_hashed.csv", rows)
    create_case(store, "c")
    summary = import_datasets.import_x_io(store, settings, case="c", path=path, read_in_child=True)
    assert summary.posts_new == 3 and summary.problem_count == 0
    assert any(p.startswith("line 3: tweet ") and "NUL" in p for p in summary.problems)
    with store.reader() as s:
        post = s.execute(select(Post).where(Post.platform_id == str(snowflake(when, 1)))).one()[0]
        version = s.execute(select(PostVersion).where(PostVersion.post_id == post.id)).one()[0]
    assert post.text == "a NUL\ufffd in it" and post.mentions == ["test_052020:bad\ufffdname"]
    assert version.text_sha256 == text_sha256(post.text, None)


def test_repeated_cells_are_read_alike_row_after_row(tmp_path: Path) -> None:
    # The reader remembers the last tweet_time, list cells and counts it read (rows of a minute
    # come together, hashtags repeat): every row still gets its own lists and its own problems.
    when = datetime(2020, 5, 1, 10, 30, 12, tzinfo=UTC)
    rows = [
        tweet_row(
            snowflake(when, n), f"u{n}", when, hashtags="['Mali', 'Wagner']", like_count="3.0"
        )
        for n in range(3)
    ] + [
        tweet_row(snowflake(when, n), f"v{n}", when, tweet_time="soon", urls="['x', [1]]")
        for n in range(3, 5)
    ]
    path = write_tweets(tmp_path / "test_052020_tweets_csv_hashed.csv", rows)
    items = _items(path)
    posts = [i for i in items if isinstance(i, PostRecord)]
    problems = [i for i in items if isinstance(i, ImportProblem)]
    assert [p.hashtags for p in posts[:3]] == [["Mali", "Wagner"]] * 3
    posts[0].hashtags.append("changed")
    assert posts[1].hashtags == posts[2].hashtags == ["Mali", "Wagner"]
    assert [p.metrics["like_count"] for p in posts[:3]] == [3, 3, 3]
    assert [p.created_at for p in posts] == [when] * 5  # the snowflakes' time, in every row
    assert [(p.line, p.message.split(":")[0]) for p in problems] == [
        (5, "tweet_time 'soon' is not a time"),
        (5, "urls is not a list (not a flat list of strings at character 5"),
        (6, "tweet_time 'soon' is not a time"),
        (6, "urls is not a list (not a flat list of strings at character 5"),
    ]
