"""``unchanged``: a preview (``drytry``, ``--dry-run``, check-quota, a report) must leave every row of
Tally's own tables exactly as it was: row counts and a digest of every column of every row.

Excluded: ``billing.IdempotencyKey`` (a request with an ``Idempotency-Key`` stores its answer so a
repeat replays it: protocol bookkeeping, not a domain write) and Django's own tables (sessions,
admin log).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from django.apps import apps

if TYPE_CHECKING:
    from orders.simulation.context import Ctx

APPS = ("plans", "billing", "usage", "orders")
EXCLUDED = {"billing.idempotencykey"}


def snapshot() -> dict[str, tuple[int, str]]:
    out: dict[str, tuple[int, str]] = {}
    for label in APPS:
        for model in apps.get_app_config(label).get_models():
            name = model._meta.label_lower
            if name in EXCLUDED:
                continue
            fields = [f.attname for f in model._meta.concrete_fields]
            digest = hashlib.sha256()
            count = 0
            for row in model._default_manager.order_by("pk").values_list(*fields).iterator(chunk_size=2000):
                digest.update(repr(row).encode())
                count += 1
            out[name] = (count, digest.hexdigest()[:16])
    return out


def diff(before: dict[str, tuple[int, str]], after: dict[str, tuple[int, str]]) -> list[str]:
    changed = []
    for name in sorted(set(before) | set(after)):
        b, a = before.get(name), after.get(name)
        if b != a:
            rows = f"{b[0] if b else 0} -> {a[0] if a else 0} rows"
            changed.append(f"{name} ({rows}{'' if b and a and b[0] != a[0] else ', rows changed'})")
    return changed


@contextmanager
def unchanged(ctx: Ctx, what: str, *, invariant: str = "preview_wrote_nothing") -> Iterator[None]:
    """``invariant`` names the check (a preview known to write on main has its own name in
    ``invariants.KNOWN_OPEN``, so it is reported without hiding every other preview)."""
    before = snapshot()
    yield
    after = snapshot()
    ctx.counters["previews"] += 1
    changes = diff(before, after)
    ctx.expect(invariant, not changes, f"{what} changed {', '.join(changes)}")
