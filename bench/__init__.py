"""Benchmarks B1-B9 (docs/benchmarks.md) (``make bench``; ``BENCH_SCALE=small|medium|full``)."""
