"""Read replicas (issue 21.5, docs/scaling.md): reports, lists and the admin's read-only pages read
from ``DATABASE_REPLICA_URL`` when it is set; everything else, and every request that wrote, stays
on the primary.

- ``ReplicaRouter`` (``DATABASE_ROUTERS``) sends a read to the ``replica`` alias only while a
  request marked for replica reads is being served, before it wrote anything, outside any
  transaction on the primary; every write (``db_for_write``, which ``select_for_update`` and the
  bulk writers ask too) goes to the primary and pins the rest of the request there.
- ``ReplicaReadsMiddleware`` marks a request: ``GET``/``HEAD`` of a view whose class or function
  has ``replica_reads = True`` (reports and lists), or one of the admin's changelists and its
  dashboard. Read-your-writes across requests: a request that wrote pins its client (the session
  cookie, else the ``Authorization`` header, hashed) to the primary for ``REPLICA_PIN_SECONDS`` in
  the shared cache, so the list a client reads right after its write is never older than it.
- Without ``REPLICA_READS`` (no replica configured) the router is a no-op: one alias, as before.
  Celery tasks, commands and beat never carry the mark: they read the primary.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, HttpResponse

REPLICA_ALIAS = "replica"
READ_METHODS = ("GET", "HEAD")
ADMIN_READ_PAGES = ("dashboard",)  # url names in the admin namespace, besides every *_changelist


@dataclass
class RequestReads:
    """What the router knows of the request being served: may it read the replica, has it written."""

    replica_ok: bool = False
    wrote: bool = False


# The request being served in this context (set by ``ReplicaReadsMiddleware``); None outside requests.
current_request_reads: ContextVar[RequestReads | None] = ContextVar("tally_replica_request", default=None)


def replica_enabled() -> bool:
    return bool(getattr(settings, "REPLICA_READS", False)) and REPLICA_ALIAS in settings.DATABASES


class ReplicaRouter:
    """Reads of marked requests to the replica; all else (and all writes) to the primary."""

    def db_for_read(self, model: type[Any], **hints: Any) -> str | None:
        state = current_request_reads.get()
        if state is None or not state.replica_ok or state.wrote or not replica_enabled():
            return None
        if connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return None  # a transaction on the primary reads its own rows
        return REPLICA_ALIAS

    def db_for_write(self, model: type[Any], **hints: Any) -> str:
        state = current_request_reads.get()
        if state is not None:
            state.wrote = True
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # the replica holds the primary's rows

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == DEFAULT_DB_ALIAS  # a replica follows the primary; it is never migrated


def mark_replica_reads(view: Any) -> Any:
    """Decorator for function views (class views set ``replica_reads = True``)."""
    view.replica_reads = True
    return view


def _view_reads_replica(request: HttpRequest, view_func: Callable[..., Any]) -> bool:
    cls = getattr(view_func, "cls", None) or getattr(view_func, "view_class", None)
    if getattr(view_func, "replica_reads", False) or getattr(cls, "replica_reads", False):
        return True
    match = request.resolver_match
    if match is not None and match.namespace == "admin":
        name = match.url_name or ""
        return name.endswith("_changelist") or name in ADMIN_READ_PAGES
    return False


def _client_key(request: HttpRequest, response: HttpResponse | None = None) -> str | None:
    """Who is pinned after a write: the session (the one the response sets, e.g. at a login),
    else the bearer credential; hashed, never stored as it is."""
    cookie = settings.SESSION_COOKIE_NAME
    credential = (
        (response.cookies[cookie].value if response is not None and cookie in response.cookies else "")
        or request.COOKIES.get(cookie)
        or request.headers.get("Authorization")
    )
    if not credential:
        return None
    return "replica-pin:" + hashlib.sha256(credential.encode()).hexdigest()[:32]


class ReplicaReadsMiddleware:
    """Marks the requests whose reads may go to the replica; pins a client that wrote."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        state = RequestReads()
        token = current_request_reads.set(state)
        try:
            response = self.get_response(request)
        finally:
            current_request_reads.reset(token)
        if state.wrote and replica_enabled():
            key = _client_key(request, response)
            seconds = int(getattr(settings, "REPLICA_PIN_SECONDS", 0))
            if key and seconds > 0:
                caches["default"].set(key, 1, timeout=seconds)
        return response

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], args: Any, kwargs: Any
    ) -> None:
        state = current_request_reads.get()
        if state is None or request.method not in READ_METHODS or not replica_enabled():
            return
        if not _view_reads_replica(request, view_func):
            return
        key = _client_key(request)
        if key and caches["default"].get(key):
            return  # this client wrote moments ago: read its own writes from the primary
        state.replica_ok = True
