"""package orders (see DOMAIN.md)."""

from __future__ import annotations

__all__: list[str] = []
