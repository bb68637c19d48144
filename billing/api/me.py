from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.models import Account
from billing.tenancy import personal_account


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    is_staff = serializers.BooleanField()
    namespaces = serializers.ListField(child=serializers.CharField())


class MeView(APIView):
    """Who the token belongs to and which namespaces it may name."""

    error_family = "billing"

    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        personal_account(request.user)
        namespaces = list(Account.objects.filter(members=request.user.pk).values_list("namespace", flat=True))
        data = {
            "username": request.user.get_username(),
            "is_staff": request.user.is_staff,
            "namespaces": namespaces,
        }
        return Response(MeSerializer(data).data)
