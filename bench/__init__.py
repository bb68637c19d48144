"""Benchmarks B1-B5 of QUALITY.md (``make bench``; ``BENCH_SCALE=small|medium|full``)."""
