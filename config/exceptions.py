"""Domain errors raised by services, mapped to API codes by the view's error family.

Services know *what* went wrong; the interface decides how to say it. A viewset declares
``error_family`` (``usageapi``, ``billing``, ``package``, ``vehicle``, ``plans``) and the envelope
exception handler picks the code for that family, so one ``InsufficientFunds`` is 3316 on
``/usageapi`` and 190102 on ``/api/v1/billing``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from config.api.errors import ErrorCode


class DomainError(Exception):
    http_status: ClassVar[int] = 400
    codes: ClassVar[dict[str, ErrorCode]] = {"default": ErrorCode.UNKNOWN}
    # True when the whole transaction was rolled back because of another writer and running it
    # again from the start can succeed (``config.db.retry_on_conflict`` retries it).
    transient: ClassVar[bool] = False

    def __init__(self, message: str = "", *, errors: dict[str, list[str]] | None = None, **data: Any):
        super().__init__(message or self.__class__.__doc__ or self.__class__.__name__)
        self.message = message or (self.__class__.__doc__ or self.__class__.__name__).strip()
        self.errors = errors
        self.data = data

    def code_for(self, family: str | None) -> ErrorCode:
        if family and family in self.codes:
            return self.codes[family]
        return self.codes["default"]


class InsufficientFunds(DomainError):
    """insufficient balance"""

    http_status = 400
    codes = {
        "default": ErrorCode.INSUFFICIENT_BALANCE,
        "usageapi": ErrorCode.INSUFFICIENT_BALANCE,
        "billing": ErrorCode.BILLING_INSUFFICIENT_BALANCE,
        "package": ErrorCode.PACKAGE_INSUFFICIENT_BALANCE,
        "vehicle": ErrorCode.VEHICLE_INSUFFICIENT_BALANCE,
    }


class NotFound(DomainError):
    """not found"""

    http_status = 404
    codes = {"default": ErrorCode.NOT_FOUND}


class InvalidInput(DomainError):
    """invalid parameters"""

    http_status = 400
    codes = {"default": ErrorCode.INVALID_PARAMETERS}


class Conflict(DomainError):
    """conflict"""

    http_status = 409
    codes = {"default": ErrorCode.UNKNOWN}


class InvalidTransition(DomainError):
    """the current state does not allow this"""

    http_status = 409
    codes = {"default": ErrorCode.UNKNOWN}
