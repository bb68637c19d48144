"""What a serving process does once, after loading the application and before its first request."""

from __future__ import annotations

import gc


def freeze_startup_objects() -> int:
    """Import every view module now (the URLconf's includes), then move every object alive so far
    out of the garbage collector's sight (``gc.freeze``); returns how many were frozen.

    Why: those ~110,000 objects (Django, DRF, the views and serializers) live as long as the
    process, yet every full (generation 2) collection walked them all: 25-30 ms measured on this
    machine, paid by whichever request happened to trigger the collection. That was B7's one slow
    usages page (docs/benchmarks.md). After the freeze a full collection walks only what requests
    created. The cost: a reference cycle among startup objects that later becomes garbage is never
    reclaimed, which Python's documentation accepts for long-lived server processes."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - the import of every included URL module is the point
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
