"""A test-only endpoint that exercises the shared conventions with a real money effect."""

from __future__ import annotations

import os
import time
from pathlib import Path

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.idempotency import idempotent
from billing.services import account_credit
from billing.tenancy import namespace_from_request, resolve_account
from config.api.fields import MoneyField


class TopUpSerializer(serializers.Serializer):
    amount = MoneyField(min_value=0)
    reference = serializers.RegexField(r"^[a-z]+$", max_length=10)
    count = serializers.IntegerField(min_value=1)
    namespace = serializers.CharField(required=False)


class TopUpView(APIView):
    error_family = "billing"

    @idempotent
    def post(self, request: Request) -> Response:
        s = TopUpSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        account = resolve_account(request.user, namespace_from_request(request))
        _maybe_hang("before")
        posting = account_credit(
            account_id=account.pk,
            amount=s.validated_data["amount"],
            idempotency_key=f"t:{s.validated_data['reference']}",
        )
        _maybe_hang("after")
        return Response({"balance": str(posting.balance), "entry": posting.entry.pk}, status=201)


def _maybe_hang(moment: str) -> None:
    """In the killed-worker test's subprocess only: say where we are, then hang until SIGKILLed."""
    if os.environ.get("TOPUP_HANG") != moment:
        return
    Path(os.environ["TOPUP_HANG_FLAG"]).write_text(moment)
    while True:
        time.sleep(1)


class BoomView(APIView):
    permission_classes: list = []

    def get(self, request: Request) -> Response:
        raise RuntimeError("secret internals")
