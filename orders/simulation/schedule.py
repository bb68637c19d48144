"""The schedule: a pure function of (seed, accounts, months, faults) -> a list of operations.

Nothing here touches the database. Every operation has a simulated time and JSON-able arguments;
one that acts on something an earlier operation created names it by that operation's index
(``ref``), and the runner resolves it when the step runs (a missing target makes the step a no-op).
So any subset of a schedule is itself a valid schedule: a failing run can be shrunk by dropping
steps and replayed with ``--keep``.
"""

from __future__ import annotations

import calendar
import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from config.clock import add_months_anchored

# Where a run starts (UTC dates): each span crosses month ends and, for America/New_York, a DST
# change; the 2028 ones cross Feb 29 (2028 is a leap year).
STARTS = (
    datetime(2028, 1, 27, 15, 0, tzinfo=UTC),  # Jan 31 -> Feb 29 -> Mar 31, DST starts Mar 12
    datetime(2027, 10, 26, 9, 0, tzinfo=UTC),  # DST ends Nov 7, Nov 30, Dec 31
    datetime(2028, 2, 20, 3, 0, tzinfo=UTC),  # Feb 29 within days, DST Mar 12
    datetime(2027, 3, 5, 20, 0, tzinfo=UTC),  # DST starts Mar 14, Mar 31
)

PO_PLANS = ("vol-50g", "vol-100g", "bsi-basic", "res-cpu", "res-traffic", "res-gpu-hourly")
HOURLY_PO = {"res-gpu-hourly", "res-cpu"}
SERVICES = ("passport", "payment", "asset")

# Customer and staff operations with their weights (per generated operation).
WEIGHTS: dict[str, int] = {
    "recharge": 12,
    "batch_recharge": 2,
    "adjust": 2,
    "po_create": 9,
    "po_renew": 3,
    "po_modify": 3,
    "po_cancel": 2,
    "po_admin_cancel": 2,
    "pkg_create": 5,
    "pkg_charge": 4,
    "pkg_cancel": 1,
    "inst_op": 6,
    "meter": 5,
    "veh_place": 5,
    "veh_pay": 4,
    "veh_cancel": 2,
    "veh_underwrite": 3,
    "deduct_burst": 5,
    "price_change": 1,
    "report_read": 2,
    "run_billing_preview": 1,
}

# Operations that only exist with ``faults`` (they are the fault injections).
FAULT_WEIGHTS: dict[str, int] = {
    "kill_worker": 3,
    "db_fault_window": 4,
}


@dataclass(frozen=True)
class Op:
    index: int
    at: datetime
    kind: str
    args: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(self.args.items()))
        return f"#{self.index} {self.at.isoformat()} {self.kind}({shown})"


@dataclass(frozen=True)
class ScheduleConfig:
    seed: int
    accounts: int = 3
    months: int = 2
    faults: bool = False
    ops_per_month: int = 60
    time_zone: str = "America/New_York"


def special_instants(start: datetime, end: datetime, tz_name: str) -> list[datetime]:
    """The clock jumps worth making: around every local midnight that starts a month, noon of
    Feb 29, and each DST change of ``tz_name`` (a minute before, at, and just before the hour after)."""
    tz = ZoneInfo(tz_name)
    out: list[datetime] = []
    local_start = start.astimezone(tz)
    year, month = local_start.year, local_start.month
    while True:
        first = datetime(year, month, 1, tzinfo=tz).astimezone(UTC)
        if first > end + timedelta(days=1):
            break
        out.extend([first - timedelta(seconds=30), first + timedelta(seconds=30)])
        if month == 2 and calendar.isleap(year):
            out.append(datetime(year, 2, 29, 12, 0, tzinfo=tz).astimezone(UTC))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    t = start.replace(minute=0, second=0, microsecond=0)
    while t < end:
        after = t + timedelta(hours=1)
        if after.astimezone(tz).utcoffset() != t.astimezone(tz).utcoffset():
            out.extend([after - timedelta(minutes=1), after, after + timedelta(minutes=59)])
        t = after
    return sorted(i for i in out if start < i < end)


class _Gen:
    """Generates in strict time order; follow-ups (a stop some hours after a start) wait in a heap."""

    def __init__(self, cfg: ScheduleConfig) -> None:
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.start = STARTS[cfg.seed % len(STARTS)] + timedelta(minutes=self.rng.randrange(0, 600))
        self.end = add_months_anchored(self.start, cfg.months)
        self.ops: list[Op] = []
        self.heap: list[tuple[datetime, int, str, dict[str, Any]]] = []
        self.seq = 0
        # what each kind of operation created, by account: indices of the creating ops
        self.made: dict[str, list[tuple[int, int]]] = {}

    def later(self, at: datetime, kind: str, args: dict[str, Any]) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (at, self.seq, kind, args))

    def emit(self, at: datetime, kind: str, args: dict[str, Any]) -> int:
        index = len(self.ops)
        self.ops.append(Op(index=index, at=at, kind=kind, args=args))
        return index

    def remember(self, family: str, account: int, index: int) -> None:
        self.made.setdefault(family, []).append((account, index))

    def pick(self, family: str, account: int) -> int | None:
        """An earlier creating op of ``family`` for ``account`` (recent ones more often)."""
        pool = [i for a, i in self.made.get(family, []) if a == account]
        if not pool:
            return None
        recent = pool[-6:]
        return self.rng.choice(recent if self.rng.random() < 0.7 else pool)


def build_schedule(cfg: ScheduleConfig) -> list[Op]:
    g = _Gen(cfg)
    rng = g.rng
    g.emit(g.start, "setup", {"accounts": cfg.accounts})
    for k in range(cfg.accounts):  # every account starts with some money, through the real path
        g.later(
            g.start + timedelta(minutes=1 + k), "recharge", {"account": k, "amount": "800.00", "mode": "ok"}
        )
    t = g.start
    while t < g.end:
        t += timedelta(minutes=rng.randrange(300, 780))
        g.later(t, "tick", {})
    for instant in special_instants(g.start, g.end, cfg.time_zone):
        g.later(instant, "jump", {"dup": cfg.faults and rng.random() < 0.3})
    mean_gap = (g.end - g.start).total_seconds() / max(1, cfg.ops_per_month * cfg.months)
    kinds = list(WEIGHTS)
    weights = [WEIGHTS[k] for k in kinds]
    if cfg.faults:
        kinds += list(FAULT_WEIGHTS)
        weights += list(FAULT_WEIGHTS.values())
    next_op = g.start + timedelta(minutes=10)
    while True:
        if g.heap and g.heap[0][0] <= next_op:
            at, _, kind, args = heapq.heappop(g.heap)
            if at >= g.end:
                continue
            _emit_followup(g, at, kind, args)
            continue
        if next_op >= g.end:
            break
        kind = rng.choices(kinds, weights)[0]
        _generate(g, next_op, kind, rng.randrange(cfg.accounts))
        next_op += timedelta(seconds=round(rng.expovariate(1 / mean_gap)))
    g.emit(g.end, "final", {})
    return g.ops


def _emit_followup(g: _Gen, at: datetime, kind: str, args: dict[str, Any]) -> None:
    g.emit(at, kind, args)


TARGETS = {
    "po_renew": ("po", "po_create"),
    "po_modify": ("po", "po_create"),
    "po_cancel": ("po", "po_create"),
    "po_admin_cancel": ("po", "po_create"),
    "pkg_charge": ("pkg", "pkg_create"),
    "pkg_cancel": ("pkg", "pkg_create"),
    "inst_op": ("pkg", "pkg_create"),
    "meter": ("pkg", "pkg_create"),
    "veh_pay": ("veh", "veh_place"),
    "veh_cancel": ("veh", "veh_place"),
    "veh_underwrite": ("veh", "veh_place"),
}


def _generate(g: _Gen, at: datetime, kind: str, account: int) -> None:
    """Emit one operation of ``kind`` for ``account`` (with its follow-ups). An operation on
    something goes to an account that has such a thing; with none yet, one is created instead.
    The random draws happen in a fixed order per kind: a seed always gives the same schedule."""
    kind, account = _retarget(g, kind, account)
    a: dict[str, Any] = {"account": account}
    maker = _MAKERS.get(kind)
    if maker is not None:
        maker(g, at, a)
        return
    draw = _ARGS.get(kind)
    if draw is not None:
        draw(g, kind, a)
    if "ref" in a and a["ref"] is None:
        a.pop("ref")
    g.emit(at, kind, a)


def _retarget(g: _Gen, kind: str, account: int) -> tuple[str, int]:
    """An operation on a thing goes to an account owning one; with none anywhere, make one first."""
    if kind not in TARGETS:
        return kind, account
    family, maker = TARGETS[kind]
    owners = sorted({a for a, _ in g.made.get(family, [])})
    if not owners:
        return maker, account
    if account not in owners:
        return kind, g.rng.choice(owners)
    return kind, account


# --- the operations that make something: emitted with their follow-ups, remembered as targets ----


def _make_purchase_order(g: _Gen, at: datetime, a: dict[str, Any]) -> None:
    rng, account = g.rng, a["account"]
    plan = rng.choice(PO_PLANS)
    a.update(plan=plan, quantities=rng.choice([1, 1, 1, 2, 3]), drytry=rng.random() < 0.5)
    a["named"] = rng.random() < 0.4
    a["name_pick"] = rng.randrange(3)
    index = g.emit(at, "po_create", a)
    g.remember("po", account, index)
    if plan in HOURLY_PO or rng.random() < 0.25:  # short-lived, so hourly lines stay bounded
        g.later(
            at + timedelta(minutes=rng.randrange(120, 3600)),
            "po_cancel",
            {"account": account, "ref": index},
        )


def _make_package_order(g: _Gen, at: datetime, a: dict[str, Any]) -> None:
    rng, account = g.rng, a["account"]
    a["instances"] = rng.choice([1, 1, 2])
    a["cores"] = rng.choice([2, 4])
    a["disk"] = rng.choice(["ssd", "hdd"])
    a["auto_renew"] = [rng.random() < 0.5 for _ in range(a["instances"])]
    a["pay"] = rng.random() < 0.8
    a["pay_twice"] = rng.random() < 0.2
    index = g.emit(at, "pkg_create", a)
    g.remember("pkg", account, index)
    life = timedelta(minutes=rng.randrange(180, 1440 * rng.choice([1, 2, 4, 10])))
    g.later(at + life, "inst_op", {"account": account, "ref": index, "op": "stop", "which": 0})


def _make_vehicle_order(g: _Gen, at: datetime, a: dict[str, Any]) -> None:
    rng = g.rng
    a["type"] = rng.choice(["plan", "driver", "sale"])
    a["pay_part"] = rng.choice(["full", "full", "part", "zero"])
    a["expect_days"] = rng.choice([-2, 0, 1, 3, 20])
    index = g.emit(at, "veh_place", a)
    g.remember("veh", a["account"], index)


_MAKERS: dict[str, Callable[[_Gen, datetime, dict[str, Any]], None]] = {
    "po_create": _make_purchase_order,
    "pkg_create": _make_package_order,
    "veh_place": _make_vehicle_order,
}


# --- the arguments of every other operation (drawn into ``a``; the caller emits it) ---------------


def _recharge_args(g: _Gen, kind: str, a: dict[str, Any]) -> None:
    rng = g.rng
    a["amount"] = f"{rng.choice([20, 50, 100, 200, 500])}.{rng.choice(['00', '50', '25'])}"
    a["mode"] = rng.choices(
        ["ok", "dup", "failed_then_ok", "ok_then_failed", "wrong_amount", "abandon", "tampered"],
        [6, 3, 2, 2, 2, 1, 1],
    )[0]
    a["concurrent"] = a["mode"] == "dup" and rng.random() < 0.5
    a["approve"] = rng.random() < 0.6


def _batch_recharge_args(g: _Gen, kind: str, a: dict[str, Any]) -> None:
    rng = g.rng
    a["lines"] = [[rng.randrange(g.cfg.accounts), f"{rng.randrange(5, 300)}.{rng.randrange(100):02d}"]
                  for _ in range(rng.randrange(1, 5))]  # fmt: skip
    a["bad"] = rng.random() < 0.4
    a["rerun"] = rng.random() < 0.5


def _adjust_args(g: _Gen, kind: str, a: dict[str, Any]) -> None:
    a["amount"] = f"{g.rng.choice([-40, -5, 3, 25, 60])}.{g.rng.randrange(100):02d}"


def _purchase_order_args(g: _Gen, kind: str, a: dict[str, Any]) -> None:
    a["ref"] = g.pick("po", a["account"])
    a["drytry"] = kind == "po_modify" and g.rng.random() < 0.4


def _package_order_args(g: _Gen, kind: str, a: dict[str, Any]) -> None:
    rng = g.rng
    a["ref"] = g.pick("pkg", a["account"])
    a["which"] = rng.randrange(2)
    if kind == "inst_op":
        a["op"] = rng.choices(["pause", "resume", "renew", "change_config", "stop"], [3, 3, 3, 3, 1])[0]
        a["duration"] = rng.choice(["1", "1", "2", "1M"])
        a["cores"] = rng.choice([2, 4])
    if kind == "meter":
        a["events"] = rng.randrange(1, 8)
        a["dup"] = rng.random() < 0.4
        a["late"] = rng.random() < 0.3


def _vehicle_order_args(g: _Gen, kind: str, a: dict[str, Any]) -> None:
    a["ref"] = g.pick("veh", a["account"])
    a["reject"] = g.rng.random() < 0.25
    a["twice"] = g.rng.random() < 0.2


def _deduct_burst_args(g: _Gen, kind: str, a: dict[str, Any]) -> None:
    rng = g.rng
    a["service"] = rng.choice(SERVICES)
    a["calls"] = [rng.choice([1, 5, 50, 400, 2000]) for _ in range(rng.randrange(2, 8))]
    a["dup_every"] = rng.choice([0, 0, 2, 3])


def _price_change_args(g: _Gen, kind: str, a: dict[str, Any]) -> None:
    a["plan"] = g.rng.choice(["vol-50g", "vol-100g", "bsi-basic", "res-gpu-hourly"])
    a["factor"] = g.rng.choice(["0.9", "1.1", "1.25"])


def _billing_preview_args(g: _Gen, kind: str, a: dict[str, Any]) -> None:
    a["ahead_days"] = g.rng.choice([0, 1, 7, 31])


def _kill_worker_args(g: _Gen, kind: str, a: dict[str, Any]) -> None:
    rng = g.rng
    a["target"] = rng.choice(["run_billing", "task"])
    a["delay_ms"] = rng.randrange(300, 4000)
    a["ahead_hours"] = rng.choice([1, 6, 24, 24 * 8])


def _db_fault_args(g: _Gen, kind: str, a: dict[str, Any]) -> None:
    rng = g.rng
    a["ops"] = rng.randrange(2, 6)
    a["rate"] = rng.choice([0.01, 0.03, 0.08])
    a["fault"] = rng.choice(["deadlock", "lost_connection"])


_ARGS: dict[str, Callable[[_Gen, str, dict[str, Any]], None]] = {
    "recharge": _recharge_args,
    "batch_recharge": _batch_recharge_args,
    "adjust": _adjust_args,
    **dict.fromkeys(("po_renew", "po_modify", "po_cancel", "po_admin_cancel"), _purchase_order_args),
    **dict.fromkeys(("pkg_charge", "pkg_cancel", "inst_op", "meter"), _package_order_args),
    **dict.fromkeys(("veh_pay", "veh_cancel", "veh_underwrite"), _vehicle_order_args),
    "deduct_burst": _deduct_burst_args,
    "price_change": _price_change_args,
    "run_billing_preview": _billing_preview_args,
    "kill_worker": _kill_worker_args,
    "db_fault_window": _db_fault_args,
}
