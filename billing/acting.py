"""Membership is checked at the moment money moves (issue 13 item 4; docs/security.md).

A tenant API call (``MoneyCallerMixin`` on the view) records its caller for the time of the call.
Every posting (``ledger_write.write_posting`` and the batch form) runs, after the account row is locked
and inside the posting's transaction, ``check_caller_may_move``: the caller must be a member of the
account *now* (read under the lock), or hold ``billing.act_for_any_account``. Otherwise 403/3306 and
the transaction, the order's state change with it, rolls back. So a user removed from a shared
namespace can no longer pay, cancel, renew or change anything charged to it, whichever path (order
looked up by owner, an id remembered from before, a request already in flight) brought the call
there. Calls without a recorded caller (the admin, beat jobs, payment callbacks, the internal API of
service accounts) are not tenant calls and are not checked here: they have their own permissions.

``account_member_remove`` takes the account lock before deleting the membership, so a removal and a
money movement on that account are serialised: the movement either finished before, or sees it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any

from django.db import transaction
from rest_framework.exceptions import PermissionDenied

from billing.locks import account_lock_row
from billing.models import Account
from config.powers import has_staff_power

ACT_FOR_ANY_ACCOUNT = "billing.act_for_any_account"
_caller: ContextVar[Any] = ContextVar("tally_money_caller", default=None)


@contextmanager
def money_caller(user: Any) -> Iterator[None]:
    """Postings inside the block are checked against ``user``'s current memberships."""
    token = _caller.set(user)
    try:
        yield
    finally:
        _caller.reset(token)


def check_caller_may_move(account_id: int) -> None:
    """Raise 403/3306 unless the recorded caller (if any) is a member of the account now or may act
    for any account. Call with the account row locked, inside the posting's transaction."""
    user = _caller.get()
    if user is None:
        return
    if Account.members.through.objects.filter(account_id=account_id, user_id=user.pk).exists():
        return
    if has_staff_power(user, ACT_FOR_ANY_ACCOUNT):
        return
    namespace = Account.objects.filter(pk=account_id).values_list("namespace", flat=True).first()
    raise PermissionDenied(f"namespace {namespace}: you are no longer a member")


class MoneyCallerMixin:
    """For the tenant API's views: the authenticated caller is recorded from ``initial`` (after DRF
    authenticated it) until the response is finalised, so every posting of the call is checked."""

    _money_caller_token: Token[Any] | None = None

    def initial(self, request: Any, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        if request.user is not None and request.user.is_authenticated:
            self._money_caller_token = _caller.set(request.user)

    def finalize_response(self, request: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        token, self._money_caller_token = self._money_caller_token, None
        if token is not None:
            _caller.reset(token)
        return super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]


def account_member_remove(*, account_id: int, user: Any) -> None:
    """Take ``user`` out of the account's members, under the account's row lock (see above)."""
    with transaction.atomic():
        account = account_lock_row(account_id)
        account.members.remove(user)
