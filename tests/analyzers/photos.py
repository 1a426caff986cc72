"""Moved to ``osint.synth.photos`` (shared by the image tests and the benches); this name stays
for branches that still import it from here."""

from osint.synth.photos import *  # noqa: F403
