"""DRF permission of the internal billing API, with a per-process cache of the permission check.

``user.has_perm`` costs two queries per request (the user's and the groups' permissions: Django
caches them on the user object, which is loaded fresh by every token lookup). The internal API is
called by a few service accounts at high rates (deduct-quota, benchmark B2), so the answer is
cached per process and user id for ``PERMISSION_CACHE_SECONDS``.

What stays live on every request: the token lookup itself (a deleted token or a deactivated user is
refused at once: DRF's ``TokenAuthentication`` reads both on each request), ``is_active`` and
``is_superuser`` (read from the user row that lookup loaded). What may lag: a permission granted or
revoked (directly or through a group) is seen at once by the process that saved it (the
``m2m_changed`` / ``post_save`` / ``post_delete`` receivers below clear the cache) and by other
processes within ``PERMISSION_CACHE_SECONDS``.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

INTERNAL_API_PERM = "billing.use_internal_api"
PERMISSION_CACHE_SECONDS = float(getattr(settings, "BILLING_PERMISSION_CACHE_SECONDS", 10.0))
_now = time.monotonic  # replaced in tests to let the TTL pass

_allowed: dict[int, tuple[float, bool]] = {}
_generation = 0
_lock = threading.Lock()


def permission_cache_clear(**_: Any) -> None:
    """Forget every cached answer (also the receiver of every signal that may change one)."""
    global _generation
    with _lock:
        _generation += 1
        _allowed.clear()


_User = get_user_model()
for _i, (_signal, _sender) in enumerate(
    [
        (m2m_changed, _User.user_permissions.through),
        (m2m_changed, _User.groups.through),
        (m2m_changed, Group.permissions.through),
        (post_save, _User),  # also covers a primary key reused after a rollback (tests)
        (post_delete, _User),
        (post_delete, Group),
        (post_delete, Permission),
        (post_migrate, None),  # flush
    ]
):
    _signal.connect(permission_cache_clear, sender=_sender, dispatch_uid=f"billing.permissions.{_i}")


def user_may_use_internal_api(user: Any) -> bool:
    """``user.has_perm("billing.use_internal_api")``, cached per process for active non-superusers."""
    if not (user and user.is_authenticated and user.is_active):
        return False
    if user.is_superuser:
        return True
    now = _now()
    hit = _allowed.get(user.pk)
    if hit is not None and hit[0] > now:
        return hit[1]
    generation = _generation
    allowed = bool(user.has_perm(INTERNAL_API_PERM))
    with _lock:
        if generation == _generation:  # nothing changed while we read
            _allowed[user.pk] = (now + PERMISSION_CACHE_SECONDS, allowed)
    return allowed


class CanUseInternalApi(BasePermission):
    message = "needs the billing.use_internal_api permission"

    def has_permission(self, request: Request, view: Any) -> bool:
        return user_may_use_internal_api(request.user)
