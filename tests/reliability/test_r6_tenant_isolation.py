"""R6: tenant isolation (docs/reliability.md). User A, on every endpoint, with B's ids and B's namespace.

B is the ``demo`` user after ``manage.py load_demo`` (every app's demo creates B's recharges,
orders, instances, bills, ...) plus a few objects B creates through the API here. The test does not
list endpoints by hand: it walks Django's URL resolver, so an endpoint added later is covered the
day it lands. B's identifiers are collected from every model that belongs to B's account or user
(directly or through one foreign key), so new models are covered too.

Must show: every request of A that names one of B's objects or B's namespace is 403/404 (a write
may also be refused as 400/405 before any lookup), B's rows are byte-for-byte unchanged afterwards,
and no body answered to A contains any of B's identifiers or a row of B's namespace.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import models
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from billing.models import Account
from billing.services import account_credit

TENANT_APPS = ("billing", "usage", "orders")
API_PREFIXES = ("api/", "usageapi/")
# Not tenant endpoints: the schema and docs, the global catalog, the service-to-service internal
# API (its own permission, tested in tests/billing), and the sandbox pay page (a capability URL
# handed to whoever pays).
SKIP_PREFIXES = ("api/schema", "api/docs", "internal/", "sandbox/")
GLOBAL_VIEW_MODULES = ("plans.",)
WRITE_BODIES: dict[str, dict[str, Any]] = {
    "renew": {"charge_channel": "balance", "duration": "1", "action": "renew"},
    "cancel": {"reason": "r6", "action": "cancel"},
    "pay": {},
    "charge": {},
    "stop": {},
    "pause": {},
    "resume": {},
    "underwrite": {"result": True},
    "change-config": {"plan_id": "ecs-std", "component_infos": []},
}
B_NAMESPACE = "demo"


def walk(resolver: URLResolver, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for p in resolver.url_patterns:
        if isinstance(p, URLResolver):
            yield from walk(p, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p


def tenant_patterns() -> list[tuple[str, URLPattern, list[str]]]:
    out = []
    for route, pattern in walk(get_resolver()):
        if not route.startswith(API_PREFIXES) or route.startswith(SKIP_PREFIXES):
            continue
        view = getattr(pattern.callback, "cls", pattern.callback)
        if view.__module__.startswith(GLOBAL_VIEW_MODULES):
            continue
        actions = getattr(pattern.callback, "actions", None)
        if actions:
            methods = [m.upper() for m in actions if m not in ("head", "options")]  # no body: nothing to leak
        else:
            methods = [m.upper() for m in ("get", "post", "put", "patch", "delete") if hasattr(view, m)]
        out.append((route, pattern, methods))
    return out


def _owned_querysets(account: Account, user: Any) -> Iterator[tuple[type[models.Model], models.QuerySet]]:
    """Rows of every tenant model that belong to B (by account or user, directly or one FK away)."""
    user_model = apps.get_model(settings.AUTH_USER_MODEL)
    for app_label in TENANT_APPS:
        for model in apps.get_app_config(app_label).get_models():
            filters: list[models.Q] = []
            for f in model._meta.get_fields():
                if not (isinstance(f, models.ForeignKey) and f.concrete):
                    continue
                if f.related_model is Account:
                    filters.append(models.Q(**{f.name: account}))
                elif f.related_model is user_model and f.name in ("owner", "user", "creator", "created_by"):
                    filters.append(models.Q(**{f.name: user}))
                elif f.related_model is not None and f.related_model._meta.app_label in TENANT_APPS:
                    for g in f.related_model._meta.get_fields():
                        if isinstance(g, models.ForeignKey) and g.concrete and g.related_model is Account:
                            filters.append(models.Q(**{f"{f.name}__{g.name}": account}))
            if model is Account:
                filters.append(models.Q(pk=account.pk))
            if filters:
                q = filters[0]
                for extra in filters[1:]:
                    q |= extra
                yield model, model._default_manager.filter(q).distinct()


ID_FIELD = re.compile(r"(^|_)(id|no|ref|ext)$|public_id|order_no|order_ref|prod_inst_id_ext|request_id")


def b_identifiers(account: Account, user: Any) -> tuple[set[str], set[str]]:
    """(every id usable in a URL, the distinctive ones that must never appear in A's bodies)."""
    values: set[str] = set()
    markers: set[str] = set()
    for model, qs in _owned_querysets(account, user):
        if model is Account:
            continue
        fields = [
            f
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.UUIDField)
            and not f.is_relation
            and (f.unique or ID_FIELD.search(f.name))
        ]
        for row in qs[:200]:
            values.add(str(row.pk))
            for f in fields:
                v = getattr(row, f.attname)
                if v not in (None, ""):
                    values.add(str(v))
                    if len(str(v)) >= 8:
                        markers.add(str(v))
    return values, markers


def b_snapshot(account: Account, user: Any) -> dict[str, list[tuple[Any, ...]]]:
    snap = {}
    for model, qs in _owned_querysets(account, user):
        cols = [f.attname for f in model._meta.concrete_fields]
        snap[model._meta.label] = sorted(qs.values_list(*cols), key=lambda r: str(r[0]))
    return snap


def rows_of_namespace(body: Any, namespace: str) -> bool:
    """True when any object in the JSON body is a row of ``namespace``."""
    if isinstance(body, dict):
        for key in ("namespace", "order_user_id"):
            if body.get(key) == namespace:
                return True
        return any(rows_of_namespace(v, namespace) for v in body.values())
    if isinstance(body, list):
        return any(rows_of_namespace(v, namespace) for v in body)
    return False


def make_b_objects(b_client: APIClient) -> None:
    """A few more of B's objects through the public API (best effort: the demo covers the rest)."""
    b_client.post(
        "/api/v1/billing/recharge",
        {"amount": "12.3400", "payment_method": "sandbox", "currency": settings.TALLY_CURRENCY},
        format="json",
    )
    b_client.post(
        "/usageapi/v1/orders",
        {"region": "cn-north-1", "plan_id": "vol-50g", "parameters": {"resource_name": "r6-bob-vol"}},
        format="json",
    )


@pytest.mark.django_db
def test_r6_user_a_reaches_nothing_of_b(django_user_model):
    call_command("load_demo", stdout=io.StringIO())
    b_user = django_user_model.objects.get(username=B_NAMESPACE)
    b_account = Account.objects.get(namespace=B_NAMESPACE)
    account_credit(account_id=b_account.pk, amount=500, idempotency_key="r6:topup", memo="r6")
    b_client = APIClient()
    b_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=b_user)[0].key}")
    make_b_objects(b_client)

    a_user = django_user_model.objects.create_user(username="alice-r6", password="x")
    a = APIClient()
    a.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=a_user).key}")

    values, markers = b_identifiers(b_account, b_user)
    assert values, "B owns nothing: load_demo and the API calls created no tenant objects"
    before = b_snapshot(b_account, b_user)

    patterns = tenant_patterns()
    period = "period=" + timezone.now().strftime("%Y-%m")
    sample = sorted(values, key=len, reverse=True)[:8]
    assert len(patterns) >= 10, [p[0] for p in patterns]
    problems: list[str] = []
    requests = 0

    def check(method: str, url: str, body: dict[str, Any] | None, allowed: set[int]) -> None:
        nonlocal requests
        requests += 1
        call = getattr(a, method.lower())
        resp = call(url, body, format="json") if method != "GET" else call(url)
        text = resp.content.decode("utf-8", "replace")
        sent = url + json.dumps(body or {})
        leaked = [m for m in markers if m in text and m not in sent]
        try:
            payload = json.loads(text) if text else None
        except ValueError:
            payload = None
        if resp.status_code not in allowed:
            problems.append(f"{method} {url} -> {resp.status_code} (allowed {sorted(allowed)}): {text[:160]}")
        if leaked:
            problems.append(f"{method} {url} -> body contains B's identifiers {leaked[:3]}")
        if payload is not None and rows_of_namespace(
            payload.get("data") if isinstance(payload, dict) else payload, B_NAMESPACE
        ):
            problems.append(f"{method} {url} -> body has rows of namespace {B_NAMESPACE}")

    for route, pattern, methods in patterns:
        kwargs = list(pattern.pattern.converters)
        last = route.rstrip("/").rsplit("/", 1)[-1]
        write_body = dict(WRITE_BODIES.get(last, {}))
        if kwargs:
            for value in sorted(values):
                url = "/" + re.sub(r"<(?:\w+:)?(\w+)>", value, route)
                for method in methods:
                    if method == "GET":
                        check("GET", url, None, {403, 404})
                        check("GET", f"{url}?namespace={B_NAMESPACE}", None, {403, 404})
                    else:
                        check(method, url, write_body, {400, 403, 404, 405, 409})
                        check(method, url, write_body | {"namespace": B_NAMESPACE}, {400, 403, 404, 405, 409})
        else:
            for method in methods:
                if method == "GET":
                    # A's own view (200) must hold nothing of B's; naming B's namespace is 403 where
                    # the endpoint is namespaced (per-user endpoints answer A's own rows: 200).
                    check("GET", f"/{route}?{period}", None, {200})
                    check("GET", f"/{route}?namespace={B_NAMESPACE}&{period}", None, {200, 403})
                    for field in ("order_id", "order", "vid", "instance"):
                        for value in sample:
                            check("GET", f"/{route}?{field}={value}&{period}", None, {200, 400, 403, 404})
                else:
                    check(method, f"/{route}", {"namespace": B_NAMESPACE}, {400, 403, 404, 405})
    meter_events = [r for r, _, _ in tenant_patterns() if r.endswith("meter-events")]
    for route in meter_events:  # B's instances named in A's meter events: rejected, nothing stored for B
        events = [
            {"event_id": f"r6-{i}", "instance": v, "quantity": "1", "timestamp": "2026-11-01T00:00:00Z"}
            for i, v in enumerate(sorted(values)[:50])
        ]
        check("POST", f"/{route}", {"events": events}, {200, 201, 400, 403, 404})

    after = b_snapshot(b_account, b_user)
    changed = [label for label in before if before[label] != after.get(label)]
    assert not changed, f"B's rows changed: {changed}"
    assert requests > 100
    assert not problems, f"{len(problems)} problems in {requests} requests:\n" + "\n".join(problems[:50])
