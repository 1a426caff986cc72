"""Building the case report: load everything it shows, render one self-contained HTML file."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import osint
from osint.cases import get_case
from osint.config import Settings
from osint.errors import InputError
from osint.report.charts import NetworkPicture, TimelineRow, network_svg, timeline_svg
from osint.report.data import (
    AccountView,
    PostView,
    ReportLimits,
    RunView,
    account_signals,
    load_account_labels,
    load_accounts,
    load_post_page,
    load_post_stats,
    load_runs,
)
from osint.report.evidence import (
    ClusterView,
    FindingView,
    coordination_graph,
    load_clusters,
    load_findings,
)
from osint.report.safe import make_environment
from osint.report.thumbs import Thumbnailer
from osint.storage.db import Store
from osint.storage.models import (
    Account,
    Capture,
    Case,
    CollectionRun,
    Finding,
    FindingEvidence,
    ImageClusterMember,
    Post,
    PostMedia,
)
from osint.storage.queries import chunks
from osint.storage.types import utcnow
from osint.writers import atomic_output

MAX_GROUP_ROWS = 8


@dataclass
class CaseFacts:
    name: str
    title: str | None
    description: str | None
    created_at: datetime
    accounts: int
    posts: int
    media: int
    captures: int
    runs: int
    findings: int
    clusters: int
    first_post: datetime | None
    last_post: datetime | None
    first_capture: datetime | None
    last_capture: datetime | None


@dataclass
class CaseReport:
    """Everything the template shows; the ``*_total`` fields say how much was capped."""

    case: CaseFacts
    generated_at: datetime
    osint_version: str
    operator: str
    hostname: str
    limits: ReportLimits
    findings: list[FindingView]
    accounts: list[AccountView]
    clusters: list[ClusterView]
    clusters_total: int
    posts: list[PostView]
    runs: list[RunView]
    timeline: Markup
    network: NetworkPicture
    thumbnails_made: int
    notes: list[str] = field(default_factory=list)


def _count(session: Session, stmt: Any) -> int:
    return int(session.execute(stmt).scalar_one() or 0)


def _case_facts(session: Session, case: Case) -> CaseFacts:
    cid = case.id
    posts = session.execute(
        select(func.count(), func.min(Post.created_at), func.max(Post.created_at)).where(
            Post.case_id == cid
        )
    ).one()
    captures = session.execute(
        select(func.count(), func.min(Capture.fetched_at), func.max(Capture.fetched_at)).where(
            Capture.case_id == cid
        )
    ).one()
    media = select(func.count(func.distinct(PostMedia.media_id))).join(
        Post, Post.id == PostMedia.post_id
    )
    return CaseFacts(
        name=case.name,
        title=case.title,
        description=case.description,
        created_at=case.created_at,
        accounts=_count(session, select(func.count()).where(Account.case_id == cid)),
        posts=int(posts[0]),
        media=_count(session, media.where(Post.case_id == cid)),
        captures=int(captures[0]),
        runs=_count(session, select(func.count()).where(CollectionRun.case_id == cid)),
        findings=_count(session, select(func.count()).where(Finding.case_id == cid)),
        clusters=_count(
            session,
            select(func.count(func.distinct(ImageClusterMember.cluster_no))).where(
                ImageClusterMember.case_id == cid
            ),
        ),
        first_post=posts[1],
        last_post=posts[2],
        first_capture=captures[1],
        last_capture=captures[2],
    )


def _report_account_ids(
    session: Session, findings: list[FindingView], stats: dict[int, Any], limit: int
) -> list[int]:
    """Accounts named in findings first (most-cited first), then the most active ones."""
    cited: dict[int, int] = {}
    for f in findings:
        for ref in f.accounts:
            cited[ref.id] = cited.get(ref.id, 0) + 1
        for post in f.posts:
            cited.setdefault(post.account_id, 0)
    ordered = sorted(cited, key=lambda a: (-cited[a], a))
    rest = sorted((a for a in stats if a not in cited), key=lambda a: (-stats[a].posts, a))
    return (ordered + rest)[:limit]


def _attach_findings(session: Session, accounts: list[AccountView], case_id: int) -> None:
    by_id = {a.id: a for a in accounts}
    ids = list(by_id)
    for batch in chunks(ids):
        rows = session.execute(
            select(FindingEvidence.account_id, Finding.id, Finding.title)
            .join(Finding, Finding.id == FindingEvidence.finding_id)
            .where(Finding.case_id == case_id, FindingEvidence.account_id.in_(batch))
            .order_by(Finding.score.desc(), Finding.id)
        )
        for account_id, finding_id, title in rows:
            if account_id is None:
                continue
            refs = by_id[account_id].findings
            if (finding_id, title) not in refs:
                refs.append((finding_id, title))


def _timeline(
    session: Session, case_id: int, groups: list[list[int]], limits: ReportLimits
) -> Markup:
    times: dict[int, list[float]] = {}
    for account_id, created_at in session.execute(
        select(Post.account_id, Post.created_at).where(Post.case_id == case_id)
    ):
        times.setdefault(account_id, []).append(created_at.timestamp())
    rows = []
    for index, group in enumerate(groups[: min(MAX_GROUP_ROWS, limits.max_timeline_rows // 3)]):
        group_times = [t for a in group for t in times.get(a, [])]
        rows.append(TimelineRow(f"group {index + 1} ({len(group)} accounts)", "group", group_times))
    top = sorted(times, key=lambda a: (-len(times[a]), a))[: limits.max_timeline_rows - len(rows)]
    labels = load_account_labels(session, top)
    rows.extend(TimelineRow(labels.get(a, str(a)), "account", times[a]) for a in top)
    return timeline_svg(rows)


def build_report(
    store: Store, settings: Settings, case_name: str, limits: ReportLimits | None = None
) -> CaseReport:
    """Load everything the report shows for one case, within ``limits``."""
    limits = limits or ReportLimits()
    thumbs = Thumbnailer(store.media, limit=limits.max_thumbnails)
    with store.reader() as session:
        case = get_case(session, case_name)
        facts = _case_facts(session, case)
        findings, _ = load_findings(
            session,
            case.id,
            limit=limits.max_findings,
            per_finding=limits.max_evidence,
            thumbs=thumbs,
        )
        stats = load_post_stats(session, case.id)
        accounts = load_accounts(
            session, _report_account_ids(session, findings, stats, limits.max_accounts), stats
        )
        _attach_findings(session, accounts, case.id)
        for account in accounts:
            account.signals = account_signals(account)
            for snap in account.snapshots:
                snap.avatar_thumb = thumbs.data_uri(snap.avatar_sha256)
        clusters, clusters_total = load_clusters(
            session, case.id, limit=limits.max_clusters, thumbs=thumbs
        )
        graph, groups = coordination_graph(session, case.id)
        report = CaseReport(
            case=facts,
            generated_at=utcnow(),
            osint_version=osint.__version__,
            operator=settings.operator,
            hostname=settings.hostname,
            limits=limits,
            findings=findings,
            accounts=accounts,
            clusters=clusters,
            clusters_total=clusters_total,
            posts=load_post_page(session, case.id, limits.max_posts),
            runs=load_runs(session, case.id, limits.max_runs),
            timeline=_timeline(session, case.id, groups, limits),
            network=network_svg(graph, max_nodes=limits.max_network_nodes),
            thumbnails_made=thumbs.count,
        )
    report.notes = _limit_notes(report)
    return report


def _limit_notes(report: CaseReport) -> list[str]:
    facts, limits = report.case, report.limits
    bundle = "the evidence bundle (osint export bundle) lists every one in its data/ folder"
    notes = []
    if facts.posts > len(report.posts):
        notes.append(
            f"Posts: the first {len(report.posts):,} of {facts.posts:,} by time are listed; {bundle}."
        )
    if facts.accounts > len(report.accounts):
        notes.append(
            f"Accounts: {len(report.accounts):,} of {facts.accounts:,} are shown (those in "
            f"findings first, then the most active); {bundle}."
        )
    if facts.findings > len(report.findings):
        notes.append(
            f"Findings: the {len(report.findings):,} strongest of {facts.findings:,} are shown; "
            f"{bundle}."
        )
    if any(
        sum(f.totals.values()) > len(f.accounts) + len(f.posts) + len(f.media)
        for f in report.findings
    ):
        notes.append(
            f"Evidence: up to {limits.max_evidence} accounts, posts and images are listed per "
            "finding; each finding says how many it cites in all."
        )
    if report.clusters_total > len(report.clusters):
        notes.append(
            f"Image clusters: the {len(report.clusters):,} largest of {report.clusters_total:,}."
        )
    if report.thumbnails_made >= limits.max_thumbnails:
        notes.append(f"Thumbnails: only the first {limits.max_thumbnails:,} images have one.")
    if report.network.nodes_dropped:
        notes.append(
            f"Network: the {report.network.nodes:,} best-connected accounts are drawn, "
            f"{report.network.nodes_dropped:,} more are left out."
        )
    return notes


def render_report(report: CaseReport) -> Iterator[str]:
    """The report as HTML, in pieces (so a large report streams to disk)."""
    template = make_environment().get_template("report.html.j2")
    return template.generate(r=report)


@dataclass(frozen=True)
class WrittenReport:
    path: Path
    size: int
    sha256: str
    posts_listed: int
    posts_total: int


class ByteSink(Protocol):
    def write(self, data: bytes, /) -> int: ...


def write_html(report: CaseReport, out: ByteSink) -> tuple[int, str]:
    """Write the report to a binary stream; returns its size and SHA-256."""
    digest = hashlib.sha256()
    size = 0
    pending: list[str] = []
    held = 0
    for piece in itertools.chain(render_report(report), [None]):
        if piece is not None:
            pending.append(piece)
            held += len(piece)
        if held >= 1 << 18 or (piece is None and pending):  # a few writes, not one per piece
            data = "".join(pending).encode("utf-8")
            pending, held = [], 0
            digest.update(data)
            size += len(data)
            out.write(data)
    return size, digest.hexdigest()


def write_report(
    store: Store,
    settings: Settings,
    case_name: str,
    out_path: Path,
    limits: ReportLimits | None = None,
) -> WrittenReport:
    """Build the report and write it to ``out_path``: whole, or not at all (a full disk says so)."""
    report = build_report(store, settings, case_name, limits)
    out_path = Path(out_path)
    if out_path.is_dir():
        raise InputError(f"{out_path} is a folder", hint="give a file name such as report.html")
    with atomic_output(out_path) as out:
        size, sha = write_html(report, out)
    return WrittenReport(out_path, size, sha, len(report.posts), report.case.posts)
