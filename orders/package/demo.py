"""Demo package orders for ``manage.py load_demo`` (idempotent).

Uses the plans demo's ``ecs`` product and ``ecs-std`` plan; without them it says so and skips. One
paid order (instance ``demo-ecs-1``: cpu hourly, disk prepaid, traffic postpaid with a few meter
events) and one unpaid order (``demo-ecs-2``) on the ``demo`` namespace.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from billing.services import account_credit, account_get_or_create
from orders.package.metering import meter_events_ingest
from orders.package.models import ProductInstance
from orders.package.services import package_order_charge, package_order_create
from orders.package.specs import InstanceSpec, ProductSpec
from plans.models import Plan

NAMESPACE = "demo"
ATTRS = {"cores": 2, "disk_type": "ssd"}


def _order(account_id: int, ext: str, auto_renew: bool) -> Any:
    return package_order_create(
        account_id=account_id,
        app_id="demo-console",
        order_user_name="Demo user",
        description=f"demo package order ({ext})",
        extra_info={"source": "load_demo"},
        products=[
            ProductSpec(
                prod_id="ecs",
                prod_name="Cloud server",
                plan_id="ecs-std",
                attrs=ATTRS,
                instances=[InstanceSpec(prod_inst_id_ext=ext, is_auto_renew=auto_renew)],
            )
        ],
    )


def load(out: Any) -> None:
    if not Plan.objects.filter(plan_id="ecs-std", product__prod_id="ecs").exists():
        out.write("package orders: plan ecs-std / product ecs not loaded, skipped")
        return
    account = account_get_or_create(namespace=NAMESPACE)
    account_credit(
        account_id=account.pk,
        amount=Decimal("500"),
        idempotency_key="demo:package-orders:fund",
        subject=("demo", "package-orders"),
    )
    if not ProductInstance.objects.filter(prod_inst_id_ext="demo-ecs-1").exists():
        paid = _order(account.pk, "demo-ecs-1", auto_renew=True)
        package_order_charge(order_pk=paid.order.pk)
        now = timezone.now()
        meter_events_ingest(
            account_id=account.pk,
            events=[
                {
                    "event_id": f"demo-traffic-{i}",
                    "instance": "demo-ecs-1",
                    "component_id": "traffic",
                    "quantity": str(Decimal("1.5") * (i + 1)),
                    "timestamp": (now + timedelta(seconds=i)).isoformat(),
                }
                for i in range(3)
            ],
        )
        out.write(f"package orders: paid order {paid.order.order_id} (instance demo-ecs-1)")
    if not ProductInstance.objects.filter(prod_inst_id_ext="demo-ecs-2").exists():
        unpaid = _order(account.pk, "demo-ecs-2", auto_renew=False)
        out.write(f"package orders: unpaid order {unpaid.order.order_id} (instance demo-ecs-2)")
