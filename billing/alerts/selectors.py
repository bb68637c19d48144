"""Reads: one account's runway and thresholds (``GET /api/v1/billing/account``, the alerts API),
and the accounts under their thresholds (the admin dashboard)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from billing.alerts import hooks
from billing.alerts.models import AlertState, AlertThreshold
from billing.alerts.rules import Thresholds, runway_days, thresholds_in_force
from billing.models import Account
from config.money import to_money


@dataclass(frozen=True)
class Runway:
    per_day: Decimal
    days: Decimal | None  # None: nothing burns
    thresholds: Thresholds
    stored: dict[str, Any]  # the account's own values (None: inherited)

    def thresholds_data(self) -> dict[str, Any]:
        t = self.thresholds
        return {
            "balance_below": t.balance_below,
            "runway_below_days": t.runway_below_days,
            "balance_below_is_default": t.balance_is_default,
            "runway_below_days_is_default": t.runway_is_default,
        }


def account_runway(*, account: Account, at: datetime | None = None) -> Runway:
    """Burn and runway of ``account`` now; an unsaved wallet (a reader's personal namespace before
    its first write) burns nothing and has the deployment defaults."""
    at = at or timezone.now()
    row = AlertThreshold.objects.filter(account_id=account.pk).first() if account.pk else None
    below = row.balance_below if row else None
    days = row.runway_below_days if row else None
    per_day = to_money(0)
    if account.pk:
        per_day = to_money(hooks.burn_per_day([account.pk], at).get(account.pk, Decimal(0)))
    return Runway(
        per_day=per_day,
        days=runway_days(balance=account.balance, per_day=per_day),
        thresholds=thresholds_in_force(balance_below=below, runway_below_days=days),
        stored={"balance_below": below, "runway_below_days": days},
    )


def account_alert_states(*, account: Account) -> list[dict[str, Any]]:
    if not account.pk:
        return []
    rows = AlertState.objects.filter(account_id=account.pk).order_by("kind")
    return [
        {"kind": r.kind, "fired_at": r.fired_at, "crossings": r.crossings, "rearmed_at": r.rearmed_at}
        for r in rows
    ]


def accounts_under_thresholds(
    *, limit: int = 50, at: datetime | None = None
) -> tuple[int, list[dict[str, Any]]]:
    """Accounts whose alert has fired and not yet recovered (as of the evaluator's last run), worst
    runway first, with their balance, burn and runway now: ``(total, rows)``."""
    at = at or timezone.now()
    fired = AlertState.objects.filter(fired_at__isnull=False)
    total = fired.values("account_id").distinct().count()
    kinds: dict[int, list[str]] = {}
    since: dict[int, datetime] = {}
    # the accounts that fired first (2 kinds at most each: 2 x limit rows cover limit accounts)
    first = fired.order_by("fired_at", "pk").values_list("account_id", "kind", "fired_at")[: limit * 2]
    for account_id, kind, fired_at in first:
        kinds.setdefault(account_id, []).append(kind)
        if fired_at is not None:
            since.setdefault(account_id, fired_at)
    accounts = list(Account.objects.filter(pk__in=kinds).values("pk", "namespace", "balance", "currency"))
    burn = hooks.burn_per_day([a["pk"] for a in accounts], at)
    rows = []
    for a in accounts:
        per_day = to_money(burn.get(a["pk"], Decimal(0)))
        rows.append(
            {
                **a,
                "kinds": sorted(kinds[a["pk"]]),
                "since": since[a["pk"]],
                "per_day": per_day,
                "runway_days": runway_days(balance=a["balance"], per_day=per_day),
            }
        )
    rows.sort(key=lambda r: (r["runway_days"] is None, r["runway_days"] or 0, r["balance"]))
    return total, rows[:limit]
