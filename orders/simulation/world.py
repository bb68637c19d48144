"""The simulated world: the clock, the message broker, the people and their API clients.

- ``SimClock`` replaces ``django.utils.timezone.now`` while a run lasts, so every service, auto_now
  field and default sees simulated time (API views call the services without ``at``).
- ``SimBroker`` replaces the Celery app's ``send_task``: every message (beat's periodic tasks,
  ``usage.settle_arrears`` after a credit, notifications) is queued and delivered by the simulated
  worker after the step, the way a real worker picks them up later. Faults drop, duplicate or
  redeliver messages here.
- ``World`` holds the users (one per account, a staff superuser, a service user for the internal
  API) and what each step created, by the index of the step that created it.
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from billing.models import Account

log = logging.getLogger("tally.simulation")


class SimClock:
    """Simulated "now". Threads of one step share it (they all act at the step's moment)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def set(self, at: datetime) -> None:
        if at < self.at:
            raise ValueError(f"the simulated clock never goes back ({at} < {self.at})")
        self.at = at

    @contextmanager
    def installed(self) -> Iterator[SimClock]:
        from django.utils import timezone

        original = timezone.now
        timezone.now = self  # type: ignore[assignment]
        try:
            yield self
        finally:
            timezone.now = original


@dataclass
class Message:
    name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0


class SimBroker:
    """Captures every ``send_task`` of the Celery app; ``drain`` is the worker."""

    def __init__(self) -> None:
        self.queue: list[Message] = []
        self.lock = threading.Lock()
        self.sent = 0
        self.delivered = 0
        self.lost = 0
        self.failed: list[str] = []
        self.lose: Callable[[Message], bool] = lambda m: False

    def send_task(self, name: str, args: Any = None, kwargs: Any = None, **_: Any) -> None:
        message = Message(name=name, args=tuple(args or ()), kwargs=dict(kwargs or {}))
        with self.lock:
            self.sent += 1
            self.queue.append(message)

    @contextmanager
    def installed(self) -> Iterator[SimBroker]:
        from config.celery import app

        for label in ("plans", "billing", "usage", "orders"):  # what a worker imports at start
            importlib.import_module(f"{label}.tasks")
        conf = app.conf
        saved = (conf.task_always_eager, conf.get("CELERY_TASK_ALWAYS_EAGER"))
        conf.task_always_eager = conf.CELERY_TASK_ALWAYS_EAGER = False
        app.send_task = self.send_task  # type: ignore[method-assign]
        try:
            yield self
        finally:
            del app.send_task
            conf.task_always_eager, conf.CELERY_TASK_ALWAYS_EAGER = saved

    def drain(self, *, limit: int = 500) -> list[str]:
        """Run queued messages in order (tasks they send are queued behind); returns task errors."""
        from config.celery import app

        errors: list[str] = []
        for _ in range(limit):
            with self.lock:
                if not self.queue:
                    break
                message = self.queue.pop(0)
            if self.lose(message):
                self.lost += 1
                log.info("simulated broker lost %s %s", message.name, message.kwargs)
                continue
            task = app.tasks.get(message.name)
            if task is None:
                errors.append(f"no task named {message.name!r} is registered")
                continue
            message.attempts += 1
            result = task.apply(args=message.args, kwargs=message.kwargs)
            self.delivered += 1
            if result.failed():
                errors.append(f"task {message.name}{message.kwargs} raised {result.result!r}")
        return errors


@dataclass
class Resp:
    status: int
    code: int
    msg: str
    data: Any

    @property
    def ok(self) -> bool:
        return self.status < 400 and self.code == 0


def call(
    client: Client,
    method: str,
    path: str,
    body: Any = None,
    *,
    key: str | None = None,
    query: dict[str, Any] | None = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Resp:
    """One HTTP request through Django's full stack (middleware, DRF, envelope)."""
    extra: dict[str, Any] = {}
    if key:
        extra["HTTP_IDEMPOTENCY_KEY"] = key
    for name, value in (headers or {}).items():
        extra["HTTP_" + name.upper().replace("-", "_")] = value
    if query:
        from urllib.parse import urlencode

        path = f"{path}?{urlencode(query)}"
    fn = getattr(client, method.lower())
    if method.upper() == "GET":
        response = fn(path, **extra)
    else:
        payload = raw if raw is not None else json.dumps(body if body is not None else {}, default=str)
        response = fn(path, data=payload, content_type="application/json", **extra)
    try:
        envelope = json.loads(response.content, parse_float=Decimal)
    except ValueError:
        return Resp(response.status_code, -1, response.content[:200].decode(errors="replace"), None)
    if not isinstance(envelope, dict):
        return Resp(response.status_code, -1, "not an envelope", envelope)
    return Resp(
        response.status_code,
        int(envelope.get("code", -1)),
        str(envelope.get("msg", "")),
        envelope.get("data"),
    )


def token_client(user: Any) -> APIClient:
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@dataclass
class World:
    users: list[Any] = field(default_factory=list)
    staff: Any = None
    service: Any = None
    created: dict[int, Any] = field(default_factory=dict)
    names: dict[int, list[str]] = field(default_factory=dict)

    def namespace(self, account: int) -> str:
        return self.users[account].get_username()

    def account_id(self, account: int) -> int:
        return int(Account.objects.values_list("pk", flat=True).get(namespace=self.namespace(account)))

    def balance(self, account: int) -> Decimal:
        value: Decimal = Account.objects.values_list("balance", flat=True).get(
            namespace=self.namespace(account)
        )
        return value

    def api(self, account: int) -> APIClient:
        return token_client(self.users[account])

    def staff_api(self) -> APIClient:
        return token_client(self.staff)

    def service_api(self) -> APIClient:
        return token_client(self.service)

    def admin(self) -> Client:
        client = Client(raise_request_exception=False)
        client.force_login(self.staff)
        return client


def world_setup(*, accounts: int, seed: int) -> World:
    """Users through ``create_api_user`` (the documented path), the demo catalog, a staff superuser
    and a service user allowed to call the internal API."""
    from django.contrib.auth.models import Permission
    from django.core.management import call_command

    from plans.catalog import catalog_import
    from plans.demo import demo_document

    catalog_import(demo_document(), force=True, retire_missing=False)
    world = World()
    out = Sink()
    for k in range(accounts):
        username = f"sim{seed}-u{k}"
        call_command("create_api_user", username, "--namespace", username, stdout=out)
        world.users.append(get_user_model().objects.get(username=username))
    user_model = get_user_model()
    world.staff = user_model.objects.create_superuser(username=f"sim{seed}-staff", password=uuid.uuid4().hex)
    world.service = user_model.objects.create_user(username=f"sim{seed}-svc")
    world.service.user_permissions.add(
        Permission.objects.get(content_type__app_label="billing", codename="use_internal_api")
    )
    return world


class Sink:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        return None
