"""The catalog's domain errors (codes 36xx of ``config/api/errors.py``).

Each error keeps the code, HTTP status and message the plans API has always answered; the caller
passes the message (it names the plan, product or field) and, where useful, ``errors`` by field.
"""

from __future__ import annotations

from config.api.errors import ErrorCode
from config.exceptions import DomainError

# Met through a package order, a pricing failure is the order family's "price error" (34xx for
# package orders, docs/package-orders.md); the message and the field still say which rule failed.
PRICE_ERROR_IN_ORDERS = {"package": ErrorCode.PACKAGE_PRICE_ERROR}


class PlanNotFound(DomainError):
    """plan not found (or not a plan of the product asked for)"""

    http_status = 404
    codes = {"default": ErrorCode.PLAN_NOT_FOUND}


class PlanRetired(DomainError):
    """plan is retired"""

    http_status = 400
    codes = {"default": ErrorCode.PLAN_RETIRED}


class PlanExists(DomainError):
    """plan already exists"""

    http_status = 409
    codes = {"default": ErrorCode.PLAN_EXISTS}


class ProductNotFound(DomainError):
    """product not found (looked up by its id: 404)"""

    http_status = 404
    codes = {"default": ErrorCode.PRODUCT_NOT_FOUND}


class UnknownProduct(DomainError):
    """a plan's body names a product that does not exist (invalid input: 400)"""

    http_status = 400
    codes = {"default": ErrorCode.PRODUCT_NOT_FOUND}


class PriceVersionTooSoon(DomainError):
    """a new price must start at least one cycle ahead unless forced"""

    http_status = 400
    codes = {"default": ErrorCode.PRICE_VERSION_TOO_SOON}


class PriceVersionUsed(DomainError):
    """a price used by a charge is frozen"""

    http_status = 409
    codes = {"default": ErrorCode.PRICE_VERSION_USED}


class PriceChangedDuringCharge(DomainError):
    """the price changed while the charge was being made; retry"""

    # An editor committed a new price between a charge's pricing read and its record insert; the
    # charge's transaction rolls back and a retry prices it again (``config.db.retry_on_conflict``).
    http_status = 409
    transient = True
    codes = {"default": ErrorCode.PRICE_CHANGED}


class ComponentAttrsInvalid(DomainError):
    """a requested component's attrs are not an object"""

    http_status = 400
    codes = {"default": ErrorCode.INVALID_PARAMETERS}


class PriceNoMatch(DomainError):
    """no price rule matches the component's attributes (or the component is unknown)"""

    http_status = 400
    codes = {"default": ErrorCode.PRICE_NO_MATCH, **PRICE_ERROR_IN_ORDERS}


class PriceAmbiguous(DomainError):
    """several price rules match the component's attributes"""

    http_status = 400
    codes = {"default": ErrorCode.PRICE_AMBIGUOUS, **PRICE_ERROR_IN_ORDERS}


class CatalogInvalid(DomainError):
    """catalog document invalid; ``errors`` lists JSON paths"""

    http_status = 400
    codes = {"default": ErrorCode.CATALOG_INVALID}

    @classmethod
    def from_errors(cls, errors: dict[str, list[str]]) -> CatalogInvalid:
        """The first ten problems in the message, all of them in ``errors``."""
        shown = "; ".join(f"{k}: {', '.join(msgs)}" for k, msgs in list(errors.items())[:10])
        more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
        return cls(f"catalog document invalid: {shown}{more}", errors=errors)


class PlanSyncFailed(DomainError):
    """plan service unavailable or answered garbage; the catalog is unchanged"""

    http_status = 503
    codes = {"default": ErrorCode.PLAN_SYNC_FAILED}


class PromotionRefused(DomainError):
    """the coupon (or ``pmid``) cannot be applied; ``errors`` names the field and the reason"""

    http_status = 400
    codes = {
        "default": ErrorCode.INVALID_PARAMETERS,
        "billing": ErrorCode.BILLING_INVALID_PARAMETERS,
        "vehicle": ErrorCode.VEHICLE_ORDER_INVALID,
    }

    @classmethod
    def on(cls, field: str, reason: str) -> PromotionRefused:
        """The API envelope's validation shape: ``invalid parameters: coupon: <reason>``."""
        return cls(f"invalid parameters: {field}: {reason}", errors={field: [reason]})
