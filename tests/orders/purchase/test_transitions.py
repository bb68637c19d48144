"""The purchase map is the one the set-based renewal writer obeys, row by row."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from config.exceptions import DomainError
from orders.purchase.models import PurchaseOrder, PurchaseOrderStatus
from orders.purchase.transitions import TRANSITIONS, order_move_in_bulk

AT = datetime(2026, 3, 1, tzinfo=UTC)


def test_the_bulk_writer_refuses_a_row_the_map_refuses() -> None:
    ended = PurchaseOrder(order_id="PO-ended", status=PurchaseOrderStatus.ENDED)
    assert TRANSITIONS[PurchaseOrderStatus.ENDED] == frozenset()
    with pytest.raises(DomainError) as exc:
        order_move_in_bulk(
            ended,
            from_status=PurchaseOrderStatus.ENDED,
            to=PurchaseOrderStatus.CONSUMING,
            reason="renewed",
            at=AT,
            data={},
        )
    assert exc.value.http_status == 409
    assert str(exc.value) == "order PO-ended is ended: cannot become consuming"
    assert ended.status == PurchaseOrderStatus.ENDED


def test_the_bulk_writer_moves_and_builds_the_event_unsaved() -> None:
    order = PurchaseOrder(order_id="PO-failed", status=PurchaseOrderStatus.RENEWALFAILED)
    event = order_move_in_bulk(
        order,
        from_status=PurchaseOrderStatus.RENEWALFAILED,
        to=PurchaseOrderStatus.CONSUMING,
        reason="renewed",
        at=AT,
        data={"money": "1.0000"},
    )
    assert order.status == PurchaseOrderStatus.CONSUMING
    assert event.pk is None and event.order is order and event.time == AT
    assert (event.from_status, event.to_status, event.reason) == (
        PurchaseOrderStatus.RENEWALFAILED,
        PurchaseOrderStatus.CONSUMING,
        "renewed",
    )
    assert event.data == {"money": "1.0000"} and event.actor is None
