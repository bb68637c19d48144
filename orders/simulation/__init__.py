"""A deterministic billing simulator (issue 22): seeded months of random use of every order family,
faults and clock jumps, with named invariants checked after every step.

``run(SimConfig(seed=...))`` plays the schedule ``build_schedule`` derives from the seed against the
current database through the real entry points (HTTP via Django's test client, the admin's actions,
``call_command``), under a simulated clock and a simulated Celery broker. ``manage.py simulate`` and
``tests/simulation/`` drive it; docs/reliability.md explains it and records its figures.

It lives in ``orders`` because ``orders`` is the top layer: the only app allowed to import all the
others. Nothing in the application imports it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SimConfig", "SimFailure", "SimResult", "run", "shrink"]


def __getattr__(name: str) -> Any:
    # Lazy: ``python -m orders.simulation.worker`` imports this package before Django is set up.
    if name in __all__:
        from orders.simulation import runner

        return getattr(runner, name)
    raise AttributeError(name)
