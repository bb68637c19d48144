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
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.apps import apps

from orders.simulation.world import Resp, call

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


def previewed(ctx: Ctx, client: Any, method: str, path: str, body: Any = None) -> Resp:
    """``?drytry=1`` of a call: it must write nothing (and answer like the call would)."""
    with unchanged(ctx, f"{method} {path}?drytry=1"):
        return ctx.answered(call(client, method, path, body, query={"drytry": 1}), f"{path} drytry")


def preview_agrees(
    ctx: Ctx, preview: Resp | None, real: Resp, field: str, *, real_field: str | None = None
) -> None:
    """A preview's figure is what the call then moved (when the call went through)."""
    if preview is None or not real.ok:
        return
    want = Decimal(str(preview.data.get(field) if preview.ok else "nan"))
    got = Decimal(str(real.data.get(real_field or field)))
    ctx.expect(
        "preview_matches_effect",
        preview.ok and want == got,
        f"the preview answered {preview.code} {field}="
        f"{preview.data.get(field) if preview.ok else preview.msg}, the call {real_field or field}={got}",
    )
