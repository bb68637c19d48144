"""Every registered changelist runs the same number of queries for 2 rows as for 20.

Rows come from the generic builder (``tests/admin/rows.py``), so an admin added later is covered
without a new factory; each row gets fresh parents, so a column that fetches a parent per row
(a missing ``list_select_related``) makes the count grow and fails here.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

import config.urls  # noqa: F401  (re-registers the beat admins as the running site does)
from tests.admin.rows import build

pytestmark = pytest.mark.django_db

MODELS = sorted(admin.site._registry, key=lambda m: m._meta.label)


def _count(client: Client, url: str) -> tuple[int, list[str], Any]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(ctx.captured_queries), [q["sql"] for q in ctx.captured_queries], response


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_changelist_queries_do_not_grow_with_rows(model: Any, admin_client: Client) -> None:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    existing = model._default_manager.count()
    for _ in range(2):
        build(model)
    admin_client.get(url)  # warm caches (content types, session)
    small, _, response = _count(admin_client, url)
    assert response.context["cl"].result_count >= 2
    for _ in range(18):
        build(model)
    big, sql, response = _count(admin_client, url)
    assert response.context["cl"].result_count >= existing + 20
    assert big == small, f"{model._meta.label}: {small} queries for 2 rows, {big} for 20:\n" + "\n".join(sql)
