"""Purchase orders' domain errors (codes 33xx of ``config/api/errors.py``, the ``/usageapi``'s).

The codes and HTTP statuses are the origin's contract (``/usageapi/v1`` clients match on them):
each class fixes one pair, the message names the order or plan and the reason.
"""

from __future__ import annotations

from config.api.errors import ErrorCode
from config.exceptions import Conflict, DomainError, InvalidTransition, NotFound


class PurchaseOrderNotFound(NotFound):
    """order not found"""

    codes = {"default": ErrorCode.NOT_FOUND}


class PurchaseOrderNotConsuming(InvalidTransition):
    """the order is not consuming"""

    # The origin's 3318 "not found or not consuming" (issue 23.3), with Tally's 409.
    codes = {"default": ErrorCode.NOT_FOUND}


class PurchaseOrderStateError(InvalidTransition):
    """the order's status does not allow this move (``TRANSITIONS``)"""

    codes = {"default": ErrorCode.UNKNOWN}


class CancelStateError(PurchaseOrderStateError):
    """the order's status does not allow a cancel"""

    codes = {"default": ErrorCode.CANCEL_ORDER}


class RenewStateError(PurchaseOrderStateError):
    """the order's status does not allow a renewal"""

    codes = {"default": ErrorCode.RENEW_ORDER}


class SwitchStateError(PurchaseOrderStateError):
    """the order's status does not allow a plan switch"""

    codes = {"default": ErrorCode.MODIFY_ORDER}


class PlanUnavailable(DomainError):
    """the plan cannot be used for a purchase order (retired, wrong region, no price)"""

    http_status = 400
    codes = {"default": ErrorCode.GET_PLAN}


class PlanNotFound(PlanUnavailable):
    """plan not found"""

    http_status = 404


class ResourceNameTaken(Conflict):
    """the resource already has a running order of this plan type"""

    codes = {"default": ErrorCode.CREATE_ORDER}


class RenewRefused(DomainError):
    """the order cannot be renewed (not prepaid, no subscription, no price)"""

    http_status = 400
    codes = {"default": ErrorCode.RENEW_ORDER}


class SwitchRefused(DomainError):
    """the order cannot switch to this plan"""

    http_status = 400
    codes = {"default": ErrorCode.MODIFY_ORDER}
