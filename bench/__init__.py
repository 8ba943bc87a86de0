"""Benchmarks (``make bench``). Each module under ``bench/`` exposing ``run() -> dict`` is executed."""
