"""The HTML case report: one self-contained file an editor or a court can open without osint.

``write_report(store, settings, case, path)`` builds it; :mod:`osint.report.safe` holds the rules
that keep hostile post texts inert.
"""

from osint.report.build import CaseReport, WrittenReport, build_report, write_html, write_report
from osint.report.data import ReportLimits

__all__ = [
    "CaseReport",
    "ReportLimits",
    "WrittenReport",
    "build_report",
    "write_html",
    "write_report",
]
