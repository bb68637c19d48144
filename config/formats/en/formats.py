"""Date and time formats of the back office (``FORMAT_MODULE_PATH``): ISO-like dates and the zone
named after every time (``2026-12-01 16:24 CST``). The admin renders times in ``TALLY_TIME_ZONE``
(``config.admin_time``); the API never uses these (it writes ISO 8601)."""

DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
TIME_FORMAT = "H:i"
YEAR_MONTH_FORMAT = "F Y"
MONTH_DAY_FORMAT = "F j"
