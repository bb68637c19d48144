"""Auto-renew of package instances: the prepaid components of instances with ``auto_renew`` are
renewed before they expire (beat: ``orders.package_auto_renew``, every 5 minutes)."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from config.exceptions import DomainError, InsufficientFunds
from orders.engine.models import LineStatus, SubscriptionKind, SubscriptionLine, SubscriptionStatus
from orders.package.instances import instance_renew
from orders.package.lifecycle import subscription_suspend
from orders.package.models import ProductInstance
from plans.models import BillingMode

log = logging.getLogger(__name__)


def package_auto_renew_run(*, at: datetime | None = None, chunk_size: int = 100) -> dict[str, int]:
    """Renew the prepaid components of auto-renew package instances before they expire.

    Each instance renews in its own transaction through ``instance_renew(auto=True)``, which locks
    account -> order -> instance -> lines and re-checks that the renewal is still due, so a second
    worker or a second run finds nothing to do. A renewal the balance cannot pay is retried hourly;
    once the paid period has run out the instance is suspended.
    """
    at = at or timezone.now()
    summary: Counter[str] = Counter()
    tried: set[int] = set()
    while True:
        sub_ids = list(
            SubscriptionLine.objects.filter(
                billing_mode=BillingMode.PREPAID,
                status=LineStatus.RUNNING,
                next_run_at__lte=at,
                subscription__kind=SubscriptionKind.PACKAGE,
                subscription__status=SubscriptionStatus.BILLING,
                subscription__auto_renew=True,
            )
            .exclude(subscription_id__in=tried)
            .order_by("subscription_id")
            .values_list("subscription_id", flat=True)
            .distinct()[:chunk_size]
        )
        if not sub_ids:
            break
        exts = {
            sub_id: (ext, account_id)
            for sub_id, ext, account_id in ProductInstance.objects.filter(
                subscription_id__in=sub_ids
            ).values_list("subscription_id", "prod_inst_id_ext", "account_id")
        }
        for sub_id in sub_ids:
            tried.add(sub_id)
            found = exts.get(sub_id)
            if found is None:
                continue
            ext, account_id = found
            try:
                result = instance_renew(
                    prod_inst_id_ext=ext, account_id=account_id, duration="1", at=at, auto=True
                )
                summary["skipped" if result.extra.get("skipped") else "renewed"] += 1
            except InsufficientFunds:
                summary["renew_failed"] += 1
                _renew_failed(subscription_id=sub_id, at=at)
            except DomainError as exc:
                log.warning("auto-renew of %s failed: %s", ext, exc)
                summary["failed"] += 1
    return dict(summary)


def _renew_failed(*, subscription_id: int, at: datetime) -> None:
    with transaction.atomic():
        lines = SubscriptionLine.objects.select_for_update().filter(
            subscription_id=subscription_id, billing_mode=BillingMode.PREPAID, status=LineStatus.RUNNING
        )
        expired = any(ln.paid_until is not None and ln.paid_until <= at for ln in lines)
        lines.update(next_run_at=at + timedelta(hours=1), updated_at=at)
    if expired:
        with transaction.atomic():
            subscription_suspend(subscription_id=subscription_id, reason="renew_failed", at=at)
