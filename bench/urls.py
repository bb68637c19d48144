"""The project's URLs plus ``/internal/v1/bench/ping``: a trivial token-authenticated DRF view.

It runs the same middleware, authentication (token lookup), permission check, renderer and
envelope as ``deduct-quota``, and nothing else: the baseline of B2.
"""

from __future__ import annotations

from typing import Any

from django.urls import include, path
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class BenchPing(APIView):
    permission_classes = [IsAuthenticated]
    error_family = "billing"

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response({"user": request.user.get_username(), "echo": request.data})


urlpatterns = [
    path("internal/v1/bench/ping", BenchPing.as_view(), name="bench-ping"),
    path("", include("config.urls")),
]

handler404 = "config.api.views.handler404"
handler500 = "config.api.views.handler500"
