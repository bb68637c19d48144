"""Beat entries of this app (collected by config.schedule)."""

from typing import Any

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {}
