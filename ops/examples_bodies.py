"""What the API examples send: request bodies, stable ids and the payment callback's signature
(the calls themselves, and their order, are in ``ops/examples_scenario.py``)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

from django.conf import settings

Context = dict[str, Any]


def example_uuid(name: str) -> str:
    """A fixed UUID per name, so recorded examples do not change between runs."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://tally.example/examples/{name}"))


def signed_callback_headers(ctx: Context) -> dict[str, str]:
    """The ``X-Tally-Signature`` header over the callback body the scenario keeps in ``ctx``."""
    body = json.dumps(ctx["callback"])  # exactly the bytes the request sends
    t = int(time.time())
    mac = hmac.new(settings.PAYMENT_CALLBACK_SECRET.encode(), f"{t}.{body}".encode(), hashlib.sha256)
    return {"HTTP_X_TALLY_SIGNATURE": f"t={t},v1={mac.hexdigest()}"}


def plan_items(ctx: Context, plan: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = ctx["vehicle_plans"][plan]
    return items


PACKAGE_ORDER: dict[str, Any] = {
    "app_id": "demo-console",
    "order_user_id": "demo",
    "order_user_name": "Demo user",
    "description": "one cloud server",
    "extra_info": {"source": "api example"},
    "order_product_set": [
        {
            "prod_id": "ecs",
            "prod_name": "Cloud server",
            "prod_instance_ext_array": [{"id": "example-ecs-1", "is_auto_renew": 1}],
            "plan": {
                "plan_id": "ecs-std",
                "attrs_id_value": [
                    {"attr_id": "cores", "attr_value": "2"},
                    {"attr_id": "disk_type", "attr_value": "ssd"},
                ],
            },
        }
    ],
}
SECOND_PACKAGE_ORDER: dict[str, Any] = {
    **PACKAGE_ORDER,
    "description": "a second server, never paid",
    "order_product_set": [
        {
            **PACKAGE_ORDER["order_product_set"][0],
            "prod_instance_ext_array": [{"id": "example-ecs-2", "is_auto_renew": 0}],
        }
    ],
}
PURCHASE_ORDER = {
    "region": "cn-north-1",
    "plan_id": "vol-50g",
    "parameters": {"resource_name": "example-vol"},
}
