"""Shared fixtures. App-specific factories live in ``tests/<app>/factories.py``."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.db import connection
from hypothesis import settings as hypothesis_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from config.celery import app as celery_app

# Property tests draw the same examples on every run (seeded from each test's name), so a red run
# is reproducible and CI cannot pass or fail by luck; HYPOTHESIS_PROFILE=explore draws new ones.
hypothesis_settings.register_profile("tally", derandomize=True, database=None, print_blob=True)
hypothesis_settings.register_profile("explore", derandomize=False, print_blob=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "tally"))

ON_MARIADB = "mysql" in settings.DATABASES["default"]["ENGINE"]

mariadb_only = pytest.mark.skipif(
    not ON_MARIADB,
    reason="needs MariaDB/MySQL row locks and real concurrent connections; set DATABASE_URL=mysql://...",
)


@pytest.fixture(autouse=True)
def _app_registry_untouched() -> Iterator[None]:
    """Fail the test that leaves the global app registry changed, not a later one.

    Migration helpers flip ``AppConfig.models_module`` on the apps they are given; run on the global
    registry that silenced ``post_migrate`` (no content types or permissions after a flush) for the rest
    of the session, and the e2e tests got 403s long after the leaking test.
    """
    before = {c.label: c.models_module for c in django_apps.get_app_configs()}
    yield
    after = {c.label: c.models_module for c in django_apps.get_app_configs()}
    changed = sorted(label for label in before if after.get(label) is not before[label])
    for config in django_apps.get_app_configs():  # put it back: one error here, not a poisoned session
        config.models_module = before.get(config.label, config.models_module)
    assert not changed, f"the test changed models_module of the global app configs: {changed}"


@pytest.fixture(autouse=True)
def _quota_check_cache_fresh() -> None:
    """Each test starts with no check-quota entries: SQLite gives a rolled-back account's id to the
    next test's account, whose balance the old entry would answer (billing.quota_cache)."""
    from billing.quota_cache import quota_check_cache_clear

    quota_check_cache_clear()


@pytest.fixture(autouse=True)
def _vehicle_list_bookmarks_fresh() -> None:
    """Each test starts with no vehicle list bookmarks: SQLite reuses a rolled-back owner's id, and a
    test's writes never commit, so none of them forgets a set an earlier test stored."""
    from orders.vehicle.bookmarks import vehicle_list_bookmarks_clear

    vehicle_list_bookmarks_clear()


@pytest.fixture(scope="session", autouse=True)
def _celery_tasks_registered() -> None:
    """Register every app's tasks as a worker does at start-up, so a task sent by name runs inline
    whichever test modules happened to be imported (tests/live/ checks the real send by name)."""
    celery_app.loader.import_default_modules()


@pytest.fixture(autouse=True)
def _celery_eager(settings: Any) -> None:
    """Tasks run inline in tests (on commit, as in production).

    With the ``CELERY`` settings namespace the prefixed key wins over the plain one: set both.
    """
    conf = celery_app.conf
    conf.task_always_eager = conf.CELERY_TASK_ALWAYS_EAGER = True
    conf.task_eager_propagates = conf.CELERY_TASK_EAGER_PROPAGATES = True


@pytest.fixture
def make_user(db: Any, django_user_model: Any) -> Callable[..., Any]:
    def _make(username: str = "alice", *, staff: bool = False, superuser: bool = False, **extra: Any) -> Any:
        user = django_user_model.objects.create_user(
            username=username,
            password="pass-" + username,
            is_staff=staff or superuser,
            is_superuser=superuser,
            **extra,
        )
        return user

    return _make


@pytest.fixture
def user(make_user: Callable[..., Any]) -> Any:
    return make_user("alice")


# Every staff power of the API (issue 13: permissions, never the is_staff flag). ``staff_user`` holds
# them all, as the flag alone did before; tests/security/ checks a bare staff user gets 403/3306.
API_STAFF_PERMISSIONS = (
    "billing.view_any_account",
    "billing.act_for_any_account",
    "plans.add_plan",
    "plans.change_plan",
    "plans.add_priceversion",
    "plans.view_plan",
    "orders.underwrite_vehicleorder",
)


def grant_permissions(user: Any, *perms: str) -> Any:
    """Give ``user`` the permissions ``app.codename`` (created when a flush removed them) and return
    the user re-read, so Django's per-object permission cache is fresh."""
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType

    for perm in perms:
        app_label, codename = perm.split(".", 1)
        found = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
        if found is None:
            model = codename.split("_", 1)[1] if "_" in codename else codename
            model = {"view_any_account": "account", "act_for_any_account": "account"}.get(codename, model)
            ct, _ = ContentType.objects.get_or_create(app_label=app_label, model=model)
            found = Permission.objects.create(content_type=ct, codename=codename, name=codename)
        user.user_permissions.add(found)
    return type(user).objects.get(pk=user.pk)


@pytest.fixture
def staff_user(make_user: Callable[..., Any]) -> Any:
    return grant_permissions(make_user("staffer", staff=True), *API_STAFF_PERMISSIONS)


@pytest.fixture
def client_for() -> Callable[[Any], APIClient]:
    def _client(u: Any) -> APIClient:
        token, _ = Token.objects.get_or_create(user=u)
        c = APIClient()
        c.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return c

    return _client


@pytest.fixture
def api(user: Any, client_for: Callable[[Any], APIClient]) -> APIClient:
    return client_for(user)


@pytest.fixture
def staff_api(staff_user: Any, client_for: Callable[[Any], APIClient]) -> APIClient:
    return client_for(staff_user)


def is_mariadb() -> bool:
    return connection.vendor == "mysql"


from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402 - the browser's constants


# One Playwright for the whole session (tests/e2e and tests/live both drive Chromium): a second
# ``sync_playwright()`` while the first is running fails ("Sync API inside the asyncio loop").
@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium); browser tests need it")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (pip) is not installed")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()
