"""Vehicle orders' domain errors (codes 35xx of ``config/api/errors.py``)."""

from __future__ import annotations

from config.api.errors import ErrorCode
from config.exceptions import InvalidTransition, NotFound


class VehicleOrderNotFound(NotFound):
    """vehicle order not found"""

    codes = {"default": ErrorCode.VEHICLE_ORDER_NOT_FOUND}


class VehicleOrderStateError(InvalidTransition):
    """the order's current state does not allow this"""

    codes = {"default": ErrorCode.VEHICLE_ORDER_STATE}
