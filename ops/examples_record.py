"""Record the examples: load the demo inside a transaction, make every call of the scenario,
keep the first answer of each operation, roll everything back (config/api/examples.py)."""

from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from config.api.examples import operation_key
from ops.examples_scenario import Context, scenario, value_of


def record() -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Every call of the scenario; returns the examples and the calls that did not answer as
    expected (a failure is reported, never recorded)."""
    recorded: dict[str, dict[str, Any]] = {}
    failures: list[str] = []
    with transaction.atomic():
        call_command("load_demo", stdout=StringIO())
        clients = _clients()
        ctx: Context = {}
        _vehicle_plans(clients["demo"], ctx)
        for call in scenario():
            try:
                path = value_of(call.path, ctx) or call.template
                body = value_of(call.body, ctx)
                query = value_of(call.query, ctx) or {}
                headers = value_of(call.headers, ctx) or {}
            except KeyError as missing:
                failures.append(f"{call.method} {call.template}: needs {missing} from an earlier call")
                continue
            url = path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
            client = clients[call.who]
            response = client.generic(
                call.method, url, json.dumps(body) if body is not None else "", "application/json", **headers
            )
            payload = response.json()
            if response.status_code != call.status:
                failures.append(f"{call.method} {url}: {response.status_code} {json.dumps(payload)[:300]}")
                continue
            if call.keep:
                call.keep(ctx, payload["data"])
            key = operation_key(call.method, call.template)
            entry: dict[str, Any] = {"status": call.status, "response": payload}
            if body is not None:
                entry["request"] = body
            if query:
                entry["query"] = query
            recorded.setdefault(key, entry)
        transaction.set_rollback(True)
    return recorded, failures


def _clients() -> dict[str, APIClient]:
    users = get_user_model().objects
    clients = {"anonymous": APIClient()}
    for who, username in (("demo", "demo"), ("admin", "admin")):
        token, _ = Token.objects.get_or_create(user=users.get(username=username))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        clients[who] = client
    return clients


def _vehicle_plans(client: APIClient, ctx: Context) -> None:
    """The demo's vehicle plan items (piid and price), read through the API like a client."""
    ctx["vehicle_plans"] = {}
    for plan in ("car-basic", "car-plus"):
        detail = client.get(f"/api/v1/plans/{plan}").json()["data"]
        items = [{"piid": item["piid"], "price": item["price"]} for item in detail.get("items", [])]
        ctx["vehicle_plans"][plan] = items
        ctx[f"{plan}_total"] = str(sum((Decimal(item["price"]) for item in items), Decimal(0)))
