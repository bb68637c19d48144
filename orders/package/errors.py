"""Package orders' domain errors (codes 34xx of ``config/api/errors.py``)."""

from __future__ import annotations

from config.api.errors import ErrorCode
from config.exceptions import DomainError, InvalidTransition, NotFound


class PackageOrderNotFound(NotFound):
    """package order not found"""

    codes = {"default": ErrorCode.PACKAGE_ORDER_NOT_FOUND}


class PackageInstanceNotFound(NotFound):
    """instance not found"""

    codes = {"default": ErrorCode.PACKAGE_INSTANCE_NOT_FOUND}


class PackageOrderStateError(InvalidTransition):
    """the order's status does not allow this"""

    codes = {"default": ErrorCode.PACKAGE_ORDER_STATE}


class PackageInstanceStateError(InvalidTransition):
    """the instance's status does not allow this"""

    codes = {"default": ErrorCode.PACKAGE_INSTANCE_STATE}


class NothingToRenew(DomainError):
    """the instance has no prepaid components to renew"""

    http_status = 400
    codes = {"default": ErrorCode.PACKAGE_NOTHING_TO_RENEW}


class MeterEventsRefused(DomainError):
    """meter events rejected"""

    http_status = 400
    codes = {"default": ErrorCode.PACKAGE_METER_EVENT}
