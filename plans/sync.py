"""Pull the catalog from the plan service (docs/plans.md "Sync").

The plan service is outside our control: it may be down, slow, or answer garbage. Every failure
leaves the catalog exactly as it is (the import is all-or-nothing) and is logged with the reason;
callers (API, command) get a 3608 ``DomainError`` that says why.
"""

from __future__ import annotations

import json
import logging
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests
from django.conf import settings

from config.api.parsers import reject_json_constant
from config.exceptions import DomainError
from plans.catalog import ImportReport, catalog_import
from plans.errors import CatalogInvalid, PlanSyncFailed

logger = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
DEFAULT_BACKOFF_SECONDS = 1.0


class _Retryable(Exception):
    """A failure worth another attempt (connection error, timeout, 5xx)."""


def _sync_failed(reason: str, *, errors: dict[str, list[str]] | None = None) -> PlanSyncFailed:
    return PlanSyncFailed(f"plan sync failed, catalog unchanged: {reason}", errors=errors)


def _parse(raw: bytes | str, source: str) -> Any:
    try:
        return json.loads(raw, parse_float=Decimal, parse_constant=reject_json_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _sync_failed(f"{source} did not answer JSON ({exc})") from None


def _get_once(session: requests.Session, url: str, timeout: float) -> bytes:
    try:
        with session.get(url, timeout=timeout, stream=True, headers={"Accept": "application/json"}) as resp:
            if resp.status_code >= 500:
                raise _Retryable(f"HTTP {resp.status_code}")
            if resp.status_code != 200:
                raise _sync_failed(f"{url} answered HTTP {resp.status_code}")
            body = b""
            for chunk in resp.iter_content(64 * 1024):
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise _sync_failed(f"{url} answered more than {MAX_DOCUMENT_BYTES} bytes")
            return body
    except requests.Timeout as exc:
        raise _Retryable(f"timeout after {timeout}s ({exc.__class__.__name__})") from exc
    except requests.RequestException as exc:
        raise _Retryable(f"{exc.__class__.__name__}: {exc}") from exc


def fetch_document(url: str, *, retries: int | None = None, backoff: float | None = None) -> Any:
    """GET the catalog document; retry connection errors, timeouts and 5xx with exponential backoff."""
    timeout = settings.HTTP_TIMEOUT_SECONDS  # seconds, already a number from the environment
    retries = retries if retries is not None else settings.PLAN_SYNC_RETRIES
    backoff = backoff if backoff is not None else settings.PLAN_SYNC_BACKOFF_SECONDS
    attempts = max(1, retries)
    last = ""
    with requests.Session() as session:
        for attempt in range(1, attempts + 1):
            try:
                body = _get_once(session, url, timeout)
            except _Retryable as exc:
                last = str(exc)
                logger.warning("plan service %s attempt %d/%d failed: %s", url, attempt, attempts, last)
                if attempt < attempts:
                    time.sleep(backoff * 2 ** (attempt - 1))
                continue
            return _parse(body, url)
    raise _sync_failed(f"{url} unreachable after {attempts} attempt(s): {last}")


def sync_plans(
    *, url: str | None = None, file: str | Path | None = None, dry_run: bool = False, force: bool = False
) -> ImportReport:
    """Fetch (``url``, default ``PLAN_SERVICE_URL``) or read (``file``) a catalog and import it."""
    if file is not None:
        source = str(file)
        try:
            document = _parse(Path(file).read_bytes(), source)
        except OSError as exc:
            raise _sync_failed(f"cannot read {source}: {exc.strerror or exc}") from None
    else:
        source = url or settings.PLAN_SERVICE_URL
        if not source:
            raise _sync_failed("no PLAN_SERVICE_URL configured and no --url/--file given")
        document = fetch_document(source)
    try:
        report = catalog_import(document, dry_run=dry_run, force=force)
    except CatalogInvalid as exc:
        logger.warning("plan sync from %s refused, catalog unchanged: %s", source, exc.message)
        raise _sync_failed(
            f"{source} answered an invalid catalog: {exc.message}", errors=exc.errors
        ) from None
    logger.info("plan sync from %s%s: %s", source, " (dry run)" if dry_run else "", report.summary())
    return report


def sync_plans_logged(**kwargs: Any) -> ImportReport | None:
    """``sync_plans`` for unattended callers (beat): a failure is logged, not raised."""
    try:
        return sync_plans(**kwargs)
    except DomainError as exc:
        logger.error("plan sync failed, catalog unchanged: %s", exc.message)
        return None
