"""Benchmarks: each module ``bench/NAME.py`` has ``run() -> str`` and runs its baseline in the same run."""
