"""Order events read as sentences (issue 17.2): ``paid 10.00 CNY by finance, 08:24 CST``."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

from config.event_sentences import event_line, events_html

AT = datetime(2026, 12, 1, 0, 24, tzinfo=UTC)  # 08:24 in Shanghai
TODAY = date(2026, 12, 1)
FINANCE = SimpleNamespace(username="finance")


def test_paid_reads_like_the_issue() -> None:
    line = event_line(reason="paid", at=AT, actor=FINANCE, data={"money": "10.0000"}, currency="CNY",
                      from_label="Pending", to_label="Consuming", today=TODAY)  # fmt: skip
    assert line.text == "paid 10.00 CNY by finance, 08:24 CST"
    assert line.change == "Pending → Consuming"


def test_cancel_with_refund_and_reason_and_older_events_carry_the_date() -> None:
    data = {"refund": "19.6700", "note": "moved region"}
    line = event_line(
        reason="canceled", at=AT, actor=None, data=data, currency="CNY", today=date(2026, 12, 5)
    )
    assert line.text == "canceled, refunded 19.67 CNY by the system, 2026-12-01 08:24 CST"
    assert line.reason == "moved region"
    html = str(events_html([line]))
    assert "reason: “moved region”" in html and "{" not in html


def test_renewal_dates_are_local_and_unknown_reasons_read_as_words() -> None:
    data = {"money": "1683.7", "period_end": "2026-12-31T16:00:00+00:00", "charged": True}
    line = event_line(reason="renewed", at=AT, actor=FINANCE, currency="CNY", today=TODAY, data=data)
    assert line.text == "renewed 1,683.70 CNY, paid until 2027-01-01 00:00 CST by finance, 08:24 CST"
    other = event_line(reason="config_changed", at=AT, actor=FINANCE, data={}, currency="CNY", today=TODAY)
    assert other.text == "config changed by finance, 08:24 CST"


def test_vehicle_and_package_events() -> None:
    paid = event_line(reason="pay", at=AT, actor=FINANCE, data={"charged": "1500.0000", "ledger_entry_id": 9},
                      currency="CNY", from_label="created", to_label="paid", today=TODAY)  # fmt: skip
    assert paid.text == "paid 1,500.00 CNY by finance, 08:24 CST" and paid.change == "created → paid"
    refund = event_line(reason="cancel", at=AT, actor=FINANCE, currency="CNY", today=TODAY,
                        data={"refund": "1500.0000", "rule": "full", "reason": "customer"})  # fmt: skip
    assert refund.text == "canceled, refunded 1,500.00 CNY, rule full by finance, 08:24 CST"
    assert refund.reason == "customer"
    data = {"cycles": 1, "amount": "30", "until": "2027-01-01T00:00:00+00:00"}
    renewed = event_line(reason="renewed", at=AT, actor=None, currency="CNY", today=TODAY, data=data)
    assert (
        renewed.text
        == "renewed 30.00 CNY, paid until 2027-01-01 08:00 CST, cycles 1 by the system, 08:24 CST"
    )
