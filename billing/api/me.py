from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.models import Account


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    is_staff = serializers.BooleanField()
    namespaces = serializers.ListField(child=serializers.CharField())


class MeView(APIView):
    """Who the token belongs to and which namespaces it may name."""

    error_family = "billing"

    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        # A GET writes nothing: a personal wallet not created yet is listed as the user's (it will be
        # theirs on first use) unless that name is someone else's shared namespace.
        namespaces = list(Account.objects.filter(members=request.user.pk).values_list("namespace", flat=True))
        own = request.user.get_username()
        if own not in namespaces and not Account.objects.filter(namespace=own).exists():
            namespaces = sorted([*namespaces, own])
        data = {
            "username": request.user.get_username(),
            "is_staff": request.user.is_staff,
            "namespaces": namespaces,
        }
        return Response(MeSerializer(data).data)
