"""The one place that decides which account a request may act on (API.md "Tenancy")."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import PermissionDenied, ValidationError

from billing.models import Account
from billing.services import account_get_or_create
from config.exceptions import NotFound


def personal_account(user: Any) -> Account:
    """The user's own wallet (namespace == username), created on first use."""
    try:
        return account_get_or_create(namespace=user.get_username(), member=user)
    except DjangoValidationError as exc:
        raise PermissionDenied("your username is not a valid namespace; name one explicitly") from exc


def resolve_account(user: Any, namespace: str | None) -> Account:
    """``namespace`` or the user's own. A namespace the user is not a member of is 403 (3306);
    staff may name any existing namespace."""
    if namespace in (None, ""):
        return personal_account(user)
    if not isinstance(namespace, str) or len(namespace) > 50:
        raise ValidationError({"namespace": ["must be a string of at most 50 characters"]})
    if namespace == user.get_username():
        return personal_account(user)
    account = Account.objects.filter(namespace=namespace).first()
    if user.is_staff:
        if account is None:
            raise NotFound(f"namespace {namespace} not found")
        return account
    if account is None or not account.members.filter(pk=user.pk).exists():
        raise PermissionDenied(f"namespace {namespace}: you are not a member")
    return account


def accessible_account_ids(user: Any) -> list[int]:
    """Every account the user may read (staff: callers should not filter at all)."""
    personal_account(user)
    return list(Account.objects.filter(members=user).values_list("id", flat=True))


def namespace_from_request(request: Any) -> str | None:
    """``namespace`` from the query for reads, from the body (then query) for writes."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return request.query_params.get("namespace")
    data = request.data if isinstance(request.data, dict) else {}
    return data.get("namespace") or request.query_params.get("namespace")
