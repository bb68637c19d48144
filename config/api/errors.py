"""The one catalogue of API error codes (docs/api.md "Error codes").

3300-3319 are the origin's (datafoundry_serviceusage ``api/error.go``) and keep the origin's
meanings (``ORIGIN_MEANINGS``): a wrong method is 3303 as there; 3301, 3304, 3317 and 3319 are
reserved for what the origin meant and Tally never answers them. Tally's own codes start at 3320.

33xx purchase orders and usage (the origin's codes), 1901xx-1905xx billing (the origin's), 1906xx
billing documents (statements, credit notes), 34xx
package orders, 35xx vehicle orders, 36xx plans, 3320 idempotency conflict. The OpenAPI schema
publishes this table (``x-error-codes``), so every code a client can see is listed here.
"""

from __future__ import annotations

from enum import IntEnum


class ErrorCode(IntEnum):
    OK = 0
    # --- 33xx: purchase orders, usage, and the shared conventions --------------------------------
    UNKNOWN = 3300
    PARSE_JSON = 3302
    JSON_BUILDING = 3301  # the origin's; Tally never answers it
    UNSUPPORTED_URL = 3303
    METHOD_NOT_ALLOWED = 3303  # the origin answers a wrong method with 3303 too (HTTP 405 here)
    DB_NOT_INITED = 3304  # the origin's; Tally never answers it
    AUTH_FAILED = 3305
    PERMISSION_DENIED = 3306
    INVALID_PARAMETERS = 3307
    CREATE_ORDER = 3308
    CANCEL_ORDER = 3309
    MODIFY_ORDER = 3310
    GET_ORDER = 3311
    QUERY_ORDERS = 3312
    RENEW_ORDER = 3313
    CONSUMINGS = 3314
    GET_PLAN = 3315
    INSUFFICIENT_BALANCE = 3316
    CHARGED_BUT_NOT_CREATED = 3317  # the origin's; Tally never answers it
    NOT_FOUND = 3318
    FAILED_TO_CREATE_RESOURCE = 3319  # the origin's; Tally never answers it
    IDEMPOTENCY_CONFLICT = 3320
    IDEMPOTENCY_IN_PROGRESS = 3321
    # --- Tally's own transport-level codes (never used by the origin) ----------------------------
    THROTTLED = 3322
    SERVICE_UNAVAILABLE = 3323
    NOT_ACCEPTABLE = 3324
    PAYLOAD_TOO_LARGE = 3325
    UNSUPPORTED_MEDIA_TYPE = 3326
    # --- 1901xx-1905xx: billing (seed 003) -------------------------------------------------------
    BILLING_INVALID_PARAMETERS = 190101
    BILLING_INSUFFICIENT_BALANCE = 190102
    BILLING_ACCOUNT_NOT_FOUND = 190103
    BILLING_UNKNOWN_SERVICE = 190205
    BILLING_QUOTA_EXCEEDED = 190206
    RECHARGE_NOT_FOUND = 190301
    RECHARGE_AMOUNT_MISMATCH = 190302
    RECHARGE_BAD_SIGNATURE = 190303
    RECHARGE_UNKNOWN_PAYMENT_METHOD = 190304
    RECHARGE_ALREADY_EXISTS = 190305
    RECHARGE_STATE = 190306
    BILLING_LOCK_FAILED = 190402
    PAYMENT_SERVICE_ERROR = 190501
    PAYMENT_SERVICE_TIMEOUT = 190502
    CURRENCY_REQUIRED = 190503
    CURRENCY_UNSUPPORTED = 190504
    STATEMENT_NOT_FOUND = 190601
    CREDIT_NOTE_NOT_FOUND = 190602
    # --- 34xx: package orders (seed 002) ---------------------------------------------------------
    PACKAGE_ORDER_NOT_FOUND = 3401
    PACKAGE_ORDER_STATE = 3402
    PACKAGE_INSUFFICIENT_BALANCE = 3403
    PACKAGE_INSTANCE_NOT_FOUND = 3404
    PACKAGE_INSTANCE_STATE = 3405
    PACKAGE_NOTHING_TO_RENEW = 3406
    PACKAGE_PRICE_ERROR = 3407
    PACKAGE_METER_EVENT = 3408
    # --- 35xx: vehicle orders (seed 004) ---------------------------------------------------------
    VEHICLE_ORDER_NOT_FOUND = 3501
    VEHICLE_ORDER_STATE = 3502
    VEHICLE_INSUFFICIENT_BALANCE = 3503
    VEHICLE_ORDER_INVALID = 3504
    VEHICLE_ORDER_NO = 3505
    # --- 36xx: plans -----------------------------------------------------------------------------
    PLAN_NOT_FOUND = 3601
    PLAN_EXISTS = 3602
    PRICE_VERSION_TOO_SOON = 3603
    PRICE_NO_MATCH = 3604
    PRICE_AMBIGUOUS = 3605
    PRODUCT_NOT_FOUND = 3606
    CATALOG_INVALID = 3607
    PLAN_SYNC_FAILED = 3608
    PLAN_RETIRED = 3609
    PRICE_VERSION_USED = 3610
    PRICE_CHANGED = 3611


ERROR_DESCRIPTIONS: dict[ErrorCode, str] = {
    ErrorCode.OK: "success",
    ErrorCode.UNKNOWN: "unknown error",
    ErrorCode.PARSE_JSON: "the request body is not valid JSON",
    ErrorCode.JSON_BUILDING: "reserved (origin: json building error); not answered by Tally",
    ErrorCode.UNSUPPORTED_URL: "no such URL, or a method the URL does not allow (HTTP 404 / 405)",
    ErrorCode.DB_NOT_INITED: "reserved (origin: db is not inited); not answered by Tally",
    ErrorCode.AUTH_FAILED: "no or bad credentials",
    ErrorCode.PERMISSION_DENIED: "permission denied (or namespace not yours)",
    ErrorCode.INVALID_PARAMETERS: "invalid parameters; data.errors names every bad field",
    ErrorCode.CREATE_ORDER: "the order could not be created",
    ErrorCode.CANCEL_ORDER: "the order could not be canceled",
    ErrorCode.MODIFY_ORDER: "the order could not be modified",
    ErrorCode.GET_ORDER: "the order could not be read",
    ErrorCode.QUERY_ORDERS: "the orders could not be listed",
    ErrorCode.RENEW_ORDER: "the order could not be renewed",
    ErrorCode.CONSUMINGS: "consumption history could not be read",
    ErrorCode.GET_PLAN: "the plan could not be read (unknown, retired or wrong region)",
    ErrorCode.INSUFFICIENT_BALANCE: "insufficient balance",
    ErrorCode.CHARGED_BUT_NOT_CREATED: (
        "reserved (origin: charged but failed to create the resource); not answered by Tally"
    ),
    ErrorCode.NOT_FOUND: "not found",
    ErrorCode.FAILED_TO_CREATE_RESOURCE: (
        "reserved (origin: failed to create the resource); not answered by Tally"
    ),
    ErrorCode.IDEMPOTENCY_CONFLICT: "Idempotency-Key reused with a different request",
    ErrorCode.IDEMPOTENCY_IN_PROGRESS: "a request with this Idempotency-Key is still running",
    ErrorCode.THROTTLED: "too many requests (HTTP 429, see Retry-After)",
    ErrorCode.SERVICE_UNAVAILABLE: "a dependency (database, broker) is unavailable (HTTP 503)",
    ErrorCode.NOT_ACCEPTABLE: "no acceptable response type: ask for application/json (HTTP 406)",
    ErrorCode.PAYLOAD_TOO_LARGE: "request body too large (HTTP 413)",
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: "request Content-Type not supported: send application/json (HTTP 415)",
    ErrorCode.BILLING_INVALID_PARAMETERS: "invalid billing parameters",
    ErrorCode.BILLING_INSUFFICIENT_BALANCE: "insufficient balance",
    ErrorCode.BILLING_ACCOUNT_NOT_FOUND: "account not found",
    ErrorCode.BILLING_UNKNOWN_SERVICE: "unknown metered service",
    ErrorCode.BILLING_QUOTA_EXCEEDED: "quota and balance do not cover the calls",
    ErrorCode.RECHARGE_NOT_FOUND: "recharge order not found",
    ErrorCode.RECHARGE_AMOUNT_MISMATCH: "callback amount differs from the recharge order",
    ErrorCode.RECHARGE_BAD_SIGNATURE: "bad or stale callback signature",
    ErrorCode.RECHARGE_UNKNOWN_PAYMENT_METHOD: "unknown payment method",
    ErrorCode.RECHARGE_ALREADY_EXISTS: "recharge already exists",
    ErrorCode.RECHARGE_STATE: "recharge order is not in a state that allows this",
    ErrorCode.BILLING_LOCK_FAILED: "could not lock the account, try again",
    ErrorCode.PAYMENT_SERVICE_ERROR: "the payment service answered an error",
    ErrorCode.PAYMENT_SERVICE_TIMEOUT: "the payment service did not answer in time",
    ErrorCode.CURRENCY_REQUIRED: "currency required",
    ErrorCode.CURRENCY_UNSUPPORTED: "currency not supported by this deployment",
    ErrorCode.STATEMENT_NOT_FOUND: "statement not found",
    ErrorCode.CREDIT_NOTE_NOT_FOUND: "credit note not found",
    ErrorCode.PACKAGE_ORDER_NOT_FOUND: "package order not found",
    ErrorCode.PACKAGE_ORDER_STATE: "package order state does not allow this",
    ErrorCode.PACKAGE_INSUFFICIENT_BALANCE: "insufficient balance",
    ErrorCode.PACKAGE_INSTANCE_NOT_FOUND: "product instance not found",
    ErrorCode.PACKAGE_INSTANCE_STATE: "product instance state does not allow this",
    ErrorCode.PACKAGE_NOTHING_TO_RENEW: "instance has no prepaid components to renew",
    ErrorCode.PACKAGE_PRICE_ERROR: "no price or several prices match the attributes",
    ErrorCode.PACKAGE_METER_EVENT: "meter events rejected",
    ErrorCode.VEHICLE_ORDER_NOT_FOUND: "vehicle order not found",
    ErrorCode.VEHICLE_ORDER_STATE: "the order's current state does not allow this",
    ErrorCode.VEHICLE_INSUFFICIENT_BALANCE: "insufficient balance",
    ErrorCode.VEHICLE_ORDER_INVALID: "invalid vehicle order",
    ErrorCode.VEHICLE_ORDER_NO: "order number could not be allocated",
    ErrorCode.PLAN_NOT_FOUND: "plan not found",
    ErrorCode.PLAN_EXISTS: "plan already exists",
    ErrorCode.PRICE_VERSION_TOO_SOON: "price version must start at least one cycle ahead (or force)",
    ErrorCode.PRICE_NO_MATCH: "no price rule matches the component's attributes",
    ErrorCode.PRICE_AMBIGUOUS: "several price rules match the component's attributes",
    ErrorCode.PRODUCT_NOT_FOUND: "product not found",
    ErrorCode.CATALOG_INVALID: "catalog document invalid; data.errors lists JSON paths",
    ErrorCode.PLAN_SYNC_FAILED: "plan service unavailable or answered garbage",
    ErrorCode.PLAN_RETIRED: "plan is retired",
    ErrorCode.PRICE_VERSION_USED: "price version already used by a charge",
    ErrorCode.PRICE_CHANGED: "the price changed while the charge was being made; retry",
}


# The origin's own table (datafoundry_serviceusage ``api/error.go``, "DON'T CHANGE"): every code
# Tally shares with it, and what it means there. docs/api.md and the schema print it beside ours.
ORIGIN_MEANINGS: dict[int, str] = {
    0: "OK",
    3300: "unknown error",
    3301: "json building error",
    3302: "parse json failed",
    3303: "unsupported url (also a wrong method)",
    3304: "db is not inited",
    3305: "auth failed",
    3306: "permission denied",
    3307: "invalid parameters",
    3308: "failed to create order",
    3309: "failed to delete order",
    3310: "failed to modify order",
    3311: "failed to retrieve order",
    3312: "failed to query orders",
    3313: "failed to renew order",
    3314: "failed to consuming history",
    3315: "failed to get plan",
    3316: "insufficient balance",
    3317: "charged but failed to create resource",
    3318: "not found",
    3319: "failed to create resource",
}
