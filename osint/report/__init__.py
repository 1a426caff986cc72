"""The HTML case report: one self-contained file an editor or a court can open without osint.

``write_report(store, settings, case, path)`` builds it; :mod:`osint.report.safe` holds the rules
that keep hostile post texts inert.
"""

from typing import TYPE_CHECKING

from osint.lazy import lazy_exports

if TYPE_CHECKING:
    from osint.report.build import (
        CaseReport,
        WrittenReport,
        build_report,
        write_html,
        write_report,
    )
    from osint.report.data import ReportLimits

# Loaded on first use: the report's templates, charts and database code stay out of the CLI's
# start-up.
_EXPORTS = {
    "CaseReport": "build",
    "WrittenReport": "build",
    "build_report": "build",
    "write_html": "build",
    "write_report": "build",
    "ReportLimits": "data",
}


__getattr__ = lazy_exports(__name__, _EXPORTS)


__all__ = [
    "CaseReport",
    "ReportLimits",
    "WrittenReport",
    "build_report",
    "write_html",
    "write_report",
]
