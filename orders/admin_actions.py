"""What every family's admin actions share: the permission gate and the confirm buttons' wording.

The actions themselves live with their family (``orders/<family>/admin_actions.py``), built with
``config.admin_actions.reason_action`` over the same services as the API (no rule lives there).
This module imports no family, so importing it from a family's admin joins no two families.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


class OrderActionPermissionsMixin:
    """``has_<action>_permission`` for the reason actions' ``allowed_permissions``.

    Each action is gated on ``<app>.<action>_<model>`` (e.g. ``orders.cancel_purchaseorder``), created
    by the Finance migration or declared in the model's Meta. Superusers pass as always.
    """

    def _has_action_permission(self, request: HttpRequest, action: str) -> bool:
        opts = self.model._meta  # type: ignore[attr-defined]
        return bool(request.user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}"))

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return self._has_action_permission(request, "cancel")

    def has_renew_permission(self, request: HttpRequest) -> bool:
        return self._has_action_permission(request, "renew")

    def has_underwrite_permission(self, request: HttpRequest) -> bool:
        return self._has_action_permission(request, "underwrite")


def selection_noun(orders: list[Any]) -> str:
    """ "order" for one selected order, "3 orders" for several (the confirm buttons' object)."""
    return "order" if len(orders) == 1 else f"{len(orders)} orders"


def selection_currency(orders: list[Any]) -> str:
    """The currency the confirm buttons show amounts in: the first selected order's account's."""
    return str(orders[0].account.currency) if orders and getattr(orders[0], "account_id", None) else ""
