"""What every step's executor gets: the world, the clock, the broker, faults and the checks."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection

from orders.simulation.faults import FaultState, db_fault_hook
from orders.simulation.schedule import Op
from orders.simulation.world import Resp, SimBroker, SimClock, World


class Violation(Exception):
    """A named invariant does not hold."""

    def __init__(self, invariant: str, detail: str) -> None:
        super().__init__(f"{invariant}: {detail}")
        self.invariant = invariant
        self.detail = detail


@dataclass
class Ctx:
    seed: int
    world: World
    clock: SimClock
    broker: SimBroker
    threads: bool
    subprocess_db_url: str | None
    faults: FaultState = field(default_factory=FaultState)
    counters: Counter[str] = field(default_factory=Counter)
    op: Op | None = None
    rng: random.Random = field(default_factory=random.Random)
    fault_in_step: bool = False

    # --- checks -----------------------------------------------------------------------------------

    def fail(self, invariant: str, detail: str) -> None:
        raise Violation(invariant, detail)

    def expect(self, invariant: str, condition: bool, detail: str) -> None:
        self.counters["checks"] += 1
        if not condition:
            raise Violation(invariant, detail)

    def answered(self, resp: Resp, what: str) -> Resp:
        """Any 5xx is a defect unless this step injected a fault (then the client retries)."""
        self.counters["requests"] += 1
        if resp.status >= 500 and not self.fault_in_step:
            raise Violation("no_server_error", f"{what}: HTTP {resp.status} code {resp.code} {resp.msg}")
        return resp

    def money_moved(self, account: int, before: Decimal, expected: Decimal, what: str) -> None:
        """The answer said ``expected`` moved (signed, for the wallet); the ledger must agree."""
        after = self.world.balance(account)
        self.expect(
            "answer_matches_money",
            after - before == expected,
            f"{what}: the answer says {expected:+}, the balance moved {after - before:+}",
        )

    # --- helpers ----------------------------------------------------------------------------------

    def key(self, suffix: str = "") -> str:
        assert self.op is not None
        return f"sim{self.seed}-op{self.op.index}{'-' + suffix if suffix else ''}"

    def concurrently(self, calls: Sequence[Callable[[], Any]]) -> list[Any]:
        """Run ``calls`` in threads (MariaDB: real races) or one after the other (SQLite)."""
        if not self.threads or len(calls) < 2:
            return [c() for c in calls]
        results: list[Any] = [None] * len(calls)
        errors: list[BaseException] = []
        barrier = threading.Barrier(len(calls))
        hook = self.thread_hook

        def run(i: int) -> None:
            try:
                with hook():
                    barrier.wait(timeout=30)
                    results[i] = calls[i]()
            except BaseException as exc:  # noqa: BLE001 - re-raised in the step's thread below
                errors.append(exc)
            finally:
                connection.close()

        workers = [threading.Thread(target=run, args=(i,), name=f"sim-{i}") for i in range(len(calls))]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=300)
        self.counters["concurrent_calls"] += len(calls)
        if errors:
            raise errors[0]
        return results

    def thread_hook(self) -> Any:
        """Installed in every worker thread (the DB fault hook is per connection)."""
        return db_fault_hook(self)


@contextmanager
def nothing() -> Iterator[None]:
    yield
