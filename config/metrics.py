"""Prometheus metrics of the HTTP layer (``tally_http_*``) and the ``/metrics`` view's guard.

Per-view request counts and latencies are counted in the process that served them. Under gunicorn
with several workers set ``PROMETHEUS_MULTIPROC_DIR`` (an empty directory shared by the workers of
one machine) so a scrape of any worker reports all of them (prometheus_client's multiprocess
mode). Business figures are not counted here: ``orders/metrics.py`` reads them from the database,
so they are exact whichever process moved the money (docs/deploy.md, "Metrics").
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess

REQUESTS = Counter("tally_http_requests", "HTTP requests answered", ["view", "method", "status"])
LATENCY = Histogram(
    "tally_http_request_seconds",
    "HTTP request latency",
    ["view", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


class MetricsMiddleware:
    """Counts every request by the route's view name (``-`` for an unrouted path: a scan of random
    URLs must not create a time series per URL)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name or match._func_path) if match else "-"
        method = request.method if request.method in _METHODS else "OTHER"
        LATENCY.labels(view, method).observe(time.perf_counter() - started)
        REQUESTS.labels(view, method, str(response.status_code)).inc()
        return response


_PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_FORWARDED", "HTTP_X_REAL_IP")
_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}


def scrape_allowed(request: HttpRequest) -> bool:
    """``METRICS_TOKEN`` as ``Authorization: Bearer <token>``, or a client address inside
    ``METRICS_ALLOWED_NETWORKS`` (default loopback only) on a request no proxy relayed."""
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    if any(header in request.META for header in _PROXY_HEADERS):
        # Relayed by a reverse proxy: REMOTE_ADDR is the proxy's (often loopback), not the
        # client's, so only the token counts.
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(net, strict=False) for net in settings.METRICS_ALLOWED_NETWORKS
    )


def process_registry() -> CollectorRegistry | None:
    """The multiprocess registry when ``PROMETHEUS_MULTIPROC_DIR`` is set, else None (the
    default registry of this process)."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry
