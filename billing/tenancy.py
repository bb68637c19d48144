"""The one place that decides which account a request may act on (docs/security.md).

Staff powers are Django permissions, never the ``is_staff`` flag (issue 13, docs/security.md
"Permissions and tenancy"): naming another tenant's namespace to read it needs
``billing.view_any_account``, to act on it (pay, charge, cancel, renew, place orders) needs
``billing.act_for_any_account``; acting implies reading. A power needs an active staff account
*and* the permission (the flag alone grants nothing); superusers hold every permission.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from rest_framework.exceptions import PermissionDenied, ValidationError

from billing.models import Account
from billing.services import account_personal_get_or_create
from config.exceptions import NotFound
from config.powers import has_staff_power

VIEW_ANY_ACCOUNT = "billing.view_any_account"
ACT_FOR_ANY_ACCOUNT = "billing.act_for_any_account"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def may_act_for_any_account(user: Any) -> bool:
    """May this user pay, charge, cancel or renew on any namespace (``billing.act_for_any_account``)?"""
    return has_staff_power(user, ACT_FOR_ANY_ACCOUNT)


def may_view_any_account(user: Any) -> bool:
    """May this user read any namespace (``billing.view_any_account``, or the act permission)?"""
    return has_staff_power(user, VIEW_ANY_ACCOUNT) or may_act_for_any_account(user)


def may_see_all(user: Any, *, write: bool) -> bool:
    """The unfiltered view of every tenant: reading needs the view permission, acting the act one."""
    return may_act_for_any_account(user) if write else may_view_any_account(user)


def is_write(request: Any) -> bool:
    return request.method not in SAFE_METHODS


def _is_member(account: Account, user: Any) -> bool:
    return Account.members.through.objects.filter(account_id=account.pk, user_id=user.pk).exists()


def _not_yours(namespace: str) -> PermissionDenied:
    return PermissionDenied(
        f"namespace {namespace} is an existing shared namespace you are not a member of, so it cannot "
        "be your personal one: name one of your namespaces explicitly"
    )


def personal_account(user: Any) -> Account:
    """The user's own wallet (namespace == username), created on first use with the user as its
    member. A personal namespace is never an existing shared one: if an account of that name exists
    and the user is not its member, 403/3306 (the user is never silently made a member)."""
    try:
        account = account_personal_get_or_create(user=user)
    except DjangoValidationError as exc:
        raise PermissionDenied("your username is not a valid namespace; name one explicitly") from exc
    if not _is_member(account, user):
        raise _not_yours(account.namespace)
    return account


def personal_account_for_read(user: Any) -> Account:
    """``personal_account`` for a GET: never writes. A wallet not created yet is answered by an
    unsaved ``Account`` (``pk`` None, zero balance) that readers treat as empty."""
    namespace = user.get_username()
    account = Account.objects.filter(namespace=namespace).first()
    if account is None:
        return Account(namespace=namespace, currency=settings.TALLY_CURRENCY, balance=Decimal(0))
    if not _is_member(account, user):
        raise _not_yours(namespace)
    return account


def resolve_account(user: Any, namespace: str | None, *, write: bool = True) -> Account:
    """``namespace`` or the user's own. A namespace the user is not a member of is 403 (3306),
    unless the user holds ``billing.view_any_account`` (``write=False``, a read) or
    ``billing.act_for_any_account`` (any call): then any existing namespace (404 if none)."""
    if namespace not in (None, "") and (not isinstance(namespace, str) or len(namespace) > 50):
        raise ValidationError({"namespace": ["must be a string of at most 50 characters"]})
    if namespace in (None, "", user.get_username()):
        return personal_account(user) if write else personal_account_for_read(user)
    account = Account.objects.filter(namespace=namespace).first()
    if account is not None and _is_member(account, user):
        return account
    if may_see_all(user, write=write):
        if account is None:
            raise NotFound(f"namespace {namespace} not found")
        return account
    raise PermissionDenied(f"namespace {namespace}: you are not a member")


def accessible_account_ids(user: Any) -> list[int]:
    """Every account the user is a member of now (read from the database on every call; writes
    nothing: a personal wallet not created yet has nothing to show)."""
    return list(Account.objects.filter(members=user).values_list("id", flat=True))


def visible(qs: QuerySet[Any], user: Any, *, field: str = "account_id", write: bool = False) -> QuerySet[Any]:
    """``qs`` limited to the user's accounts, unless the user may see (``write``: act on) all."""
    if may_see_all(user, write=write):
        return qs
    return qs.filter(**{f"{field}__in": accessible_account_ids(user)})


def refuse_read_only_act(user: Any, exists_anywhere: Any) -> None:
    """Called when an object was not found among those the user may act on: a user who may read
    every account but not act for it (``billing.view_any_account`` only) gets 403/3306 instead of
    the 404 everyone else gets (they can see the object exists). ``exists_anywhere`` is a callable."""
    if may_view_any_account(user) and exists_anywhere():
        raise PermissionDenied(f"acting on another namespace needs the permission {ACT_FOR_ANY_ACCOUNT}")


def namespace_from_request(request: Any) -> str | None:
    """``namespace`` from the query for reads, from the body (then query) for writes."""
    if request.method in SAFE_METHODS:
        return request.query_params.get("namespace")
    data = request.data if isinstance(request.data, dict) else {}
    return data.get("namespace") or request.query_params.get("namespace")
