"""Defaults and choices the command line shows in ``--help``, in a module that imports nothing.

``cli.py`` reads its option defaults from here, so that ``osint --help`` does not load the
services that use them (numpy, SQLAlchemy, the image hashers). Each value is the one its service
uses; ``tests/test_startup.py`` checks that they agree.
"""

from __future__ import annotations

COORDINATION_WINDOW = 300  # seconds: osint.analysis.coordination_pass.CoordinationOptions.window
IMAGE_RADIUS = 10  # bits of 64: osint.analyzers.imagematch.DEFAULT_RADIUS
IMAGE_EXPORT_FORMATS = ("csv", "jsonl")  # osint.analysis.images_pass.EXPORT_FORMATS
NETWORK_FORMATS = ("graphml", "gexf", "csv")  # osint.analysis.export.NETWORK_FORMATS
POST_EXPORT_FORMATS = ("jsonl", "csv")  # osint.export.FORMATS (posts and events)
REPORT_MAX_POSTS = 2000  # osint.report.data.ReportLimits.max_posts
