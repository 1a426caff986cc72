"""Every analysis of a case, in order: images, coordination, timeline.

Images first, because their clusters can become one more co-sharing modality; timeline last,
because it checks the coordinated groups for accounts created in a burst.
"""

from __future__ import annotations

from dataclasses import dataclass

from osint.analysis.coordination_pass import (
    CoordinationOptions,
    CoordinationReport,
    GroupSummary,
    analyze_coordination,
    check_options,
)
from osint.analysis.images_pass import ImageAnalysisSummary, analyze_images
from osint.analysis.timeline_pass import TimelineReport, analyze_timeline
from osint.config import Settings
from osint.progress import Progress
from osint.storage.db import Store


@dataclass
class CaseAnalysis:
    images: ImageAnalysisSummary
    coordination: CoordinationReport
    timeline: TimelineReport

    def highlights(self) -> list[str]:
        """A few lines for a summary: the groups found, the re-used pictures (first poster) and the
        strongest timeline signal of each kind."""
        lines = [
            f"coordinated group #{g.rank}: {g.size} accounts, {g.objects} objects, "
            f"{g.co_shares:,} co-shares (score {g.score:.2f}): "
            + ", ".join(f"@{h}" for h in g.handles)
            + _amplifying(g)
            for g in self.coordination.groups[:5]
        ]
        if not self.coordination.groups and self.coordination.candidates:
            best = self.coordination.candidates[0]
            lines.append(
                f"no coordinated group past the significance bar; strongest candidate (not "
                f"flagged): {best.size} accounts, {best.objects} objects co-shared: "
                + ", ".join(f"@{h}" for h in best.handles)
                + _amplifying(best)
            )
        lines += [f"images: {line}" for line in self.images.highlights[:5]]
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.timeline.by_kind.items()))
        if kinds:
            lines.append(f"timeline signals: {kinds}")
            lines += [f"  {line}" for line in self.timeline.highlights]
        return lines


def _amplifying(group: GroupSummary) -> str:
    if not group.amplified:
        return ""
    return "; amplifying posts of " + ", ".join(f"@{h}" for h in group.amplified[:3])


def analyze_case(
    store: Store,
    case_name: str,
    options: CoordinationOptions | None = None,
    progress: Progress | None = None,
) -> CaseAnalysis:
    """Run every analysis of the case; each replaces its own previous findings."""
    check_options(options or CoordinationOptions())  # bad parameters stop before any work
    images = analyze_images(store, case=case_name, progress=progress)
    coordination = analyze_coordination(store, case_name, options, progress)
    timeline = analyze_timeline(store, case_name, progress)
    return CaseAnalysis(images, coordination, timeline)


def analyze_for_demo(
    store: Store, settings: Settings, case_name: str, progress: Progress
) -> list[str]:
    """``osint.demo.run.run_demo``'s ``analyze`` hook: all analyses, summary lines back."""
    return analyze_case(store, case_name, progress=progress).highlights()
