"""The named invariants checked after every step (``Checker.check``) and once more over everything
at the end (``Checker.check(full=True)``).

Ledger entries and order events are append-only, so most checks are incremental: each step looks
at the rows added since the previous one (exact ``Decimal`` arithmetic in Python, so SQLite's
floating-point ``SUM`` never enters). The full pass re-reads everything, which also catches a row
that a later step changed behind an earlier check.

Each check returns findings ``(invariant, detail)``; the runner stops at the first step with any.
``KNOWN_OPEN`` names invariants that main is known to break while another change is under way: they
are still checked and reported, and fail the run only in strict mode.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import F

from billing.models import (
    Account,
    LedgerEntry,
    LedgerKind,
    QuotaUsage,
    RechargeEvent,
    RechargeOrder,
)
from billing.recharges import TRANSITIONS as RECHARGE_MAP
from orders.models import (
    InstanceStatus,
    PackageOrder,
    PackageOrderEvent,
    PackageOrderStatus,
    ProductInstance,
    PurchaseOrder,
    PurchaseOrderEvent,
    VehicleOrder,
    VehicleOrderEvent,
)
from orders.package.transitions import INSTANCE_MOVES, ORDER_MOVES
from orders.purchase.transitions import TRANSITIONS as PURCHASE_MAP
from orders.simulation.checks import (
    Finding,
    audit_ledger,
    deadlines,
    metered,
    periods_billed_once,
    quota,
    recharges_credited_once,
    records_name_their_price,
    report_matches_ledger,
)
from orders.vehicle.transitions import TRANSITIONS as VEHICLE_MAP
from usage.models import UsageKind, UsageRecord, UsageStatus

KNOWN_OPEN: dict[str, str] = {}

# The package maps of the code, with the events that keep a status (renew, change config) allowed
# in the statuses where those operations run.
_KEEPS_STATUS = {InstanceStatus.RUNNING, InstanceStatus.PAUSED, InstanceStatus.SUSPENDED}
INSTANCE_MAP: dict[str, set[str]] = {
    status: {to for (frm, to) in INSTANCE_MOVES if frm == status} | ({status} & _KEEPS_STATUS)
    for status in InstanceStatus.values
}
PACKAGE_ORDER_MAP: dict[str, set[str]] = {
    "": {PackageOrderStatus.UNPAID},
    **{status: {to for (frm, to) in ORDER_MOVES if frm == status} for status in PackageOrderStatus.values},
}
VEHICLE_PAIRS = set(VEHICLE_MAP) | {(None, 1)}
CHECKED_EACH_STEP = 16  # the invariant groups of ``Checker.check`` (with the ledger's three)


class Checker:
    def __init__(self) -> None:
        self.last_entry = 0
        self.balances: dict[int, Decimal] = defaultdict(Decimal)
        self.last_event: dict[str, int] = defaultdict(int)
        self.state: dict[str, dict[Any, Any]] = defaultdict(dict)
        self.last_record = 0
        self._entries_from = 0

    # --- entry point -------------------------------------------------------------------------------

    def check(self, *, full: bool = False) -> list[Finding]:
        if full:
            self.__init__()  # type: ignore[misc]
        findings: list[Finding] = []
        for _name, fn in (
            ("ledger", self._ledger),
            ("records", self._records),
            ("periods", periods_billed_once),
            ("prices", records_name_their_price),
            ("entries", self._entries_explained),
            ("recharges", recharges_credited_once),
            ("quota", quota),
            ("purchase", self._purchase_states),
            ("package", self._package_states),
            ("vehicle", self._vehicle_states),
            ("recharge_events", self._recharge_states),
            ("deadlines", deadlines),
            ("report", lambda: report_matches_ledger(every_month=full)),
            ("audit", audit_ledger),
        ):
            findings.extend(fn())
        return findings

    # --- money ---------------------------------------------------------------------------------------

    def _ledger(self) -> list[Finding]:
        """balance >= 0 and == the sum of its ledger; each entry's balance_after continues the chain."""
        out: list[Finding] = []
        rows = (
            LedgerEntry.objects.filter(pk__gt=self.last_entry)
            .order_by("pk")
            .values_list("pk", "account_id", "amount", "balance_after")
        )
        for pk, account_id, amount, after in rows.iterator(chunk_size=2000):
            expected = self.balances[account_id] + amount
            if after != expected or after < 0:
                out.append(("ledger_chain", f"entry {pk} of account {account_id}: balance_after {after}, "
                                            f"previous {self.balances[account_id]} {amount:+}"))  # fmt: skip
            self.balances[account_id] = expected
            self.last_entry = pk
        for account_id, ns, balance in Account.objects.values_list("pk", "namespace", "balance"):
            total = self.balances.get(account_id, Decimal(0))
            if balance != total:
                out.append(("balance_matches_ledger", f"{ns}: balance {balance}, ledger sum {total}"))
            if balance < 0:
                out.append(("balance_non_negative", f"{ns}: balance {balance}"))
        return out

    def _records(self) -> list[Finding]:
        """Every paid record with money has its ledger entry; new metered records bill exactly the
        events of their period."""
        out: list[Finding] = []
        missing = UsageRecord.objects.filter(status=UsageStatus.PAID, ledger_entry__isnull=True).exclude(
            amount=0
        )
        for pk, ref, amount in missing.values_list("pk", "order_ref", "amount")[:5]:
            out.append(
                (
                    "paid_record_has_entry",
                    f"usage record {pk} of {ref} ({amount}) is paid without a ledger entry",
                )
            )
        other = UsageRecord.objects.filter(ledger_entry__isnull=False).exclude(
            account_id=F("ledger_entry__account_id")
        )
        for pk in other.values_list("pk", flat=True)[:5]:
            out.append(("paid_record_has_entry", f"usage record {pk} is paid by another account's entry"))
        new = UsageRecord.objects.filter(pk__gt=self.last_record, kind=UsageKind.USAGE).order_by("pk")
        for rec in new.values("pk", "line_id", "period_start", "period_end", "quantity"):
            out.extend(metered(rec))
        self.last_record = UsageRecord.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        return out

    def _entries_explained(self) -> list[Finding]:
        """Each charge/refund entry is what exactly one thing paid for, for the same money: usage
        records (their sum), a metered call, or a vehicle order's pay/refund event. A recharge entry
        belongs to a successful recharge or a batch line; an adjustment has its staff actor."""
        entries = list(
            LedgerEntry.objects.filter(pk__gt=self._entries_from)
            .order_by("pk")
            .values_list("pk", "kind", "amount", "subject_type", "actor_id", "memo")
        )
        if not entries:
            return []
        ids = [e[0] for e in entries]
        sources = _EntrySources.load(ids)
        out: list[Finding] = []
        for entry in entries:
            problem = sources.unexplained(*entry)
            if problem is not None:
                out.append(("entries_explained", problem))
        self._entries_from = ids[-1]
        return out

    # --- order states --------------------------------------------------------------------------------

    def _chain(self, family: str, rows: Any, start: Any, allowed: Any) -> list[Finding]:
        out: list[Finding] = []
        states = self.state[family]
        for pk, key, frm, to in rows:
            previous = states.get(key, start)
            if frm != previous or not allowed(frm, to):
                out.append(("state_reachable", f"{family} {key}: event {pk} moves {frm!r} -> {to!r}, "
                                               f"the order was {previous!r}"))  # fmt: skip
            states[key] = to
            self.last_event[family] = pk
        return out

    def _purchase_states(self) -> list[Finding]:
        rows = (
            PurchaseOrderEvent.objects.filter(pk__gt=self.last_event["purchase"])
            .order_by("pk")
            .values_list("pk", "order_id", "from_status", "to_status")
        )
        out = self._chain(
            "purchase", rows, None, lambda f, t: (f is None and t == 0) or t in PURCHASE_MAP.get(f, ())
        )
        return out + self._current("purchase", PurchaseOrder.objects.values_list("pk", "status"))

    def _package_states(self) -> list[Finding]:
        events = PackageOrderEvent.objects.filter(pk__gt=self.last_event["package"]).order_by("pk")
        rows = list(events.values_list("pk", "order_id", "instance_id", "from_status", "to_status"))
        order_rows = [(pk, o, f, t) for pk, o, i, f, t in rows if i is None]
        inst_rows = [(pk, i, f, t) for pk, o, i, f, t in rows if i is not None]
        out = self._chain("package", order_rows, "", lambda f, t: t in PACKAGE_ORDER_MAP.get(f, ()))
        out += self._chain("instance", inst_rows, "pending", lambda f, t: t in INSTANCE_MAP.get(f, ()))
        if inst_rows or order_rows:
            self.last_event["package"] = max(r[0] for r in order_rows + inst_rows)
        out += self._current("package", PackageOrder.objects.values_list("pk", "status"))
        canceled_orders = set(PackageOrder.objects.filter(status="canceled").values_list("pk", flat=True))
        for pk, order_id, status in ProductInstance.objects.values_list("pk", "order_id", "status"):
            seen = self.state["instance"].get(pk, "pending")
            if status != seen and not (
                status == "canceled" and order_id in canceled_orders and seen == "pending"
            ):
                out.append(("state_reachable", f"instance {pk} is {status}, its events end at {seen}"))
        return out

    def _vehicle_states(self) -> list[Finding]:
        rows = (
            VehicleOrderEvent.objects.filter(pk__gt=self.last_event["vehicle"])
            .order_by("pk")
            .values_list("pk", "order_id", "from_state", "to_state")
        )
        out = self._chain("vehicle", rows, None, lambda f, t: (f, t) in VEHICLE_PAIRS)
        return out + self._current("vehicle", VehicleOrder.objects.values_list("pk", "state_code"))

    def _recharge_states(self) -> list[Finding]:
        rows = (
            RechargeEvent.objects.filter(pk__gt=self.last_event["recharge"])
            .order_by("pk")
            .values_list("pk", "recharge_id", "from_status", "to_status")
        )
        out = self._chain(
            "recharge", rows, "", lambda f, t: (f == "" and t == "pending") or t in RECHARGE_MAP.get(f, ())
        )
        return out + self._current("recharge", RechargeOrder.objects.values_list("pk", "status"))

    def _current(self, family: str, rows: Any) -> list[Finding]:
        states = self.state[family]
        out = []
        for pk, status in rows:
            if pk not in states:
                out.append(("state_reachable", f"{family} {pk} ({status}) has no events"))
            elif states[pk] != status:
                out.append(
                    ("state_reachable", f"{family} {pk} is {status!r}, its last event says {states[pk]!r}")
                )
        return out


@dataclass
class _EntrySources:
    """What may explain the ledger entries ``ids``, keyed by entry: the money of their usage records
    (summed), metered calls and vehicle order pay/refund events (signed like the entry), and the
    entries of successful recharges."""

    by_records: dict[int, Decimal]
    by_quota: dict[int, Decimal]
    by_vehicle: dict[int, list[Decimal]]
    recharged: set[int]

    @classmethod
    def load(cls, ids: list[int]) -> _EntrySources:
        by_records: dict[int, Decimal] = defaultdict(Decimal)
        for entry_id, amount in UsageRecord.objects.filter(ledger_entry_id__in=ids).values_list(
            "ledger_entry_id", "amount"
        ):
            by_records[entry_id] += amount
        by_quota = dict(
            QuotaUsage.objects.filter(ledger_entry_id__in=ids).values_list("ledger_entry_id", "amount")
        )
        by_vehicle: dict[int, list[Decimal]] = defaultdict(list)
        events = VehicleOrderEvent.objects.filter(kind__in=["pay", "cancel"], data__ledger_entry_id__in=ids)
        for kind, data in events.values_list("kind", "data"):
            money = Decimal(str(data.get("charged" if kind == "pay" else "refund", "0")))
            by_vehicle[int(data["ledger_entry_id"])].append(-money if kind == "pay" else money)
        recharged = set(
            RechargeOrder.objects.filter(ledger_entry_id__in=ids, status="success").values_list(
                "ledger_entry_id", flat=True
            )
        )
        return cls(by_records=by_records, by_quota=by_quota, by_vehicle=by_vehicle, recharged=recharged)

    def unexplained(
        self, pk: int, kind: str, amount: Decimal, subject: str, actor_id: int | None, memo: str
    ) -> str | None:
        """Why entry ``pk`` is not explained, or None when it is."""
        if kind in (LedgerKind.CHARGE, LedgerKind.REFUND):
            # what each explanation says the wallet got (signed like the entry)
            found = [("usage records", -self.by_records[pk])] if pk in self.by_records else []
            found += [("metered call", -self.by_quota[pk])] if pk in self.by_quota else []
            found += [("vehicle order event", money) for money in self.by_vehicle.get(pk, [])]
            if len(found) != 1:
                names = [f[0] for f in found] or "nothing"
                return f"{kind} entry {pk} ({amount}, {subject}) is explained by {names}"
            if found[0][1] != amount:
                return f"{kind} entry {pk} moved {amount}, its {found[0][0]} say {found[0][1]}"
        elif kind == LedgerKind.RECHARGE:
            if pk not in self.recharged and subject != "batch_recharge":
                return f"recharge entry {pk} ({amount}) has no successful recharge"
        elif kind == LedgerKind.ADJUSTMENT and (actor_id is None or not memo):
            return f"adjustment {pk} has no staff actor or no reason"
        return None
