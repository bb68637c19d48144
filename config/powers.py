"""Staff powers of the API are Django permissions, never the ``is_staff`` flag alone (issue 13).

A power needs an active staff account (or a superuser) *and* every permission named: the flag lets a
person sign in to the admin, the permissions say what they may do there and in the API. An ordinary
user is answered without the permission queries (the hot paths stay as cheap as before). The matrix
of powers and who holds them is in docs/security.md, "Permissions and tenancy".
"""

from __future__ import annotations

from typing import Any


def has_staff_power(user: Any, *perms: str) -> bool:
    """Is ``user`` an active staff account (or superuser) holding every permission in ``perms``?"""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if not (user.is_staff or user.is_superuser):
        return False
    return bool(user.has_perms(perms))
