from typing import Any

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {}
