"""Synthetic data whose truth is known, for tests and benchmarks alike.

- ``osint.synth.family``: the scenario-generator *family* that coordination quality is judged
  on (organic Zipf populations, viral and breaking-news bursts, hyperactive sharers, fans of
  popular sources, bot rings, slow campaigns, camouflage, several modalities). Settings are
  chosen on ``CHOOSING_SEEDS`` and reported on ``HELD_OUT_SEEDS``.
- ``osint.synth.planted``: smaller planted worlds with profiles (creation dates, timezones,
  renames) for the timeline signals, and large vectorised share tables for the benchmarks.
- ``osint.synth.twarc``: twarc2 JSONL of generated tweets, for the import tests and bench.
- ``osint.synth.photos``: real photographs (from the dev extras' wheels) and the edits
  re-uploaders apply to them, for the image tests and benches.
- ``osint.synth.sharestore``: a store filled with a generated share table, fast.

The generators are pure (numpy, PIL): only ``sharestore`` touches a database, through
``storage.rawload``; nothing here touches the network.
"""
