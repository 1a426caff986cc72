"""Synthetic share data whose truth is known, for tests and benchmarks alike.

- ``osint.synth.family``: the scenario-generator *family* that coordination quality is judged
  on (organic Zipf populations, viral and breaking-news bursts, hyperactive sharers, fans of
  popular sources, bot rings, slow campaigns, camouflage, several modalities). Settings are
  chosen on ``CHOOSING_SEEDS`` and reported on ``HELD_OUT_SEEDS``.
- ``osint.synth.planted``: smaller planted worlds with profiles (creation dates, timezones,
  renames) for the timeline signals, and large vectorised share tables for the benchmarks.

Pure numpy: nothing here touches a database or the network.
"""
