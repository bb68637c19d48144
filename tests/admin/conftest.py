"""Fixtures for the admin tests: a Finance user (from the group the migration creates) and a superuser."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from config.admin_tools import FINANCE_GROUP, sync_finance_group


@pytest.fixture
def finance_group(db: Any) -> Any:
    # A transactional test elsewhere may have flushed the migration's rows: re-create them.
    return sync_finance_group()


@pytest.fixture
def finance_user(finance_group: Any, django_user_model: Any) -> Any:
    user = django_user_model.objects.create_user(username="fiona", password="pass-fiona", is_staff=True)
    user.groups.add(finance_group)
    assert finance_group.name == FINANCE_GROUP
    return django_user_model.objects.get(pk=user.pk)


@pytest.fixture
def finance_client(finance_user: Any) -> Client:
    client = Client()
    client.force_login(finance_user)
    return client


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
