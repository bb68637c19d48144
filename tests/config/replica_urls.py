"""URLs of the replica router tests (tests/config/test_replica_router.py): a marked read view that
writes halfway through, a write view, a marked read view, and the project's own URLs."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import include, path

from billing.models import Account
from config.replica import mark_replica_reads


@mark_replica_reads
def read_write_read(request: HttpRequest) -> JsonResponse:
    """Reads, writes one account, reads again; says which alias each read used."""
    first = Account.objects.all().db
    Account.objects.count()
    Account.objects.create(namespace=f"rw-{request.GET.get('n', '0')}")
    return JsonResponse({"first": first, "second": Account.objects.all().db})


def write(request: HttpRequest) -> JsonResponse:
    Account.objects.create(namespace=f"w-{request.GET.get('n', '0')}")
    return JsonResponse({"ok": True})


@mark_replica_reads
def read(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"alias": Account.objects.all().db, "accounts": Account.objects.count()})


urlpatterns = [
    path("t/read-write-read", read_write_read),
    path("t/write", write),
    path("t/read", read),
    path("", include("config.urls")),
]
