"""Content negotiation: without DEBUG the API renders JSON only, and a browser asking for HTML
(``Accept: text/html``) gets the JSON envelope rather than 406; other unmatched types stay 406."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation


class JsonForBrowsersNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request: Any, renderers: Any, format_suffix: Any = None) -> Any:
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:
            accept = request.META.get("HTTP_ACCEPT", "")
            if "text/html" in accept and renderers:
                return renderers[0], renderers[0].media_type
            raise
