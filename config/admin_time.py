"""The admin shows times in ``TALLY_TIME_ZONE`` (storage and the API stay UTC).

``AdminLocalTimeMiddleware`` activates the zone for requests under the admin's prefix, so every
date-time Django renders there (lists, detail pages, history, inputs of date filters) is local and,
with ``config/formats/en``, names the zone. Database-side truncation in that zone would need time
zone tables on MariaDB (``CONVERT_TZ`` is NULL without them), so the admin's date hierarchy is the
one of ``config.templatetags.tally_admin``: range queries on exact local boundaries.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone

from config.clock import local_tz


class AdminLocalTimeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.prefix: str | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self.prefix is None:
            self.prefix = reverse("admin:index")
        if not request.path.startswith(self.prefix):
            return self.get_response(request)
        with timezone.override(local_tz()):
            return self.get_response(request)
