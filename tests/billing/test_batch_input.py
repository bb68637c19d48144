"""``billing.api.batch_input.well_formed_items`` (the batch deduction's one-pass input check)
agrees with ``DeductBatchRequestSerializer``: whatever it accepts the serializer accepts with the
same values, and whatever the serializer refuses it leaves to the serializer (None)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.api.batch_input import well_formed_items, well_formed_request
from billing.api.serializers import (
    DeductBatchRequestSerializer,
    DeductRequestSerializer,
    QuotaRequestSerializer,
)
from billing.quota_batch import MAX_ITEMS, DeductItem

TEXT = st.one_of(
    st.text(min_size=0, max_size=3),
    st.sampled_from(["acme", " acme", "acme ", "", " ", "a\x00b", "x" * 50, "x" * 51, "y" * 128, "y" * 129]),
    st.integers(-2, 2),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False),
)
COUNT = st.one_of(
    st.integers(-1, 3),
    st.sampled_from([10**9, 10**9 + 1, "1", 1.0, True, None, [1]]),
)
ITEM = st.one_of(
    st.fixed_dictionaries(
        {"namespace": TEXT, "service": TEXT, "count": COUNT, "request_id": TEXT},
        optional={"extra": st.integers()},
    ),
    st.dictionaries(st.sampled_from(["namespace", "service", "count", "request_id"]), TEXT, max_size=3),
    st.integers(),
    st.none(),
)


def drf(body: Any) -> list[DeductItem] | None:
    ser = DeductBatchRequestSerializer(data=body)
    if not ser.is_valid():
        return None
    return [DeductItem(**item) for item in ser.validated_data["items"]]


def check(body: Any) -> None:
    fast = well_formed_items(body)
    if fast is not None:
        assert fast == drf(body), body


@settings(max_examples=400, deadline=None)
@given(st.lists(ITEM, min_size=0, max_size=4))
def test_accepts_only_what_the_serializer_accepts_with_the_same_values(items: list[Any]) -> None:
    check({"items": items})


def test_well_formed_items_are_taken_in_one_pass_and_odd_bodies_left_to_the_serializer():
    good = {"namespace": "acme", "service": "payment", "count": 2, "request_id": "r-1"}
    assert well_formed_items({"items": [good]}) == [DeductItem("acme", "payment", 2, "r-1")]
    assert well_formed_items({"items": [good] * MAX_ITEMS}) is not None
    for body in (
        {"items": [good] * (MAX_ITEMS + 1)},
        {"items": []},
        {"items": [{**good, "namespace": " acme"}]},  # the serializer trims it: its values, not ours
        {"items": [{**good, "count": "2"}]},
        {"items": [{**good, "count": True}]},
        {"items": "x"},
        [good],
        {},
    ):
        assert well_formed_items(body) is None, body
        check(body)


def single(body: Any, *, with_request_id: bool) -> dict[str, Any] | None:
    serializer = DeductRequestSerializer if with_request_id else QuotaRequestSerializer
    ser = serializer(data=body)
    return dict(ser.validated_data) if ser.is_valid() else None


@settings(max_examples=400, deadline=None)
@given(ITEM, st.booleans())
def test_a_single_body_is_accepted_only_as_the_serializer_accepts_it(
    body: Any, with_request_id: bool
) -> None:
    fast = well_formed_request(body, with_request_id=with_request_id)
    if fast is not None:
        assert fast == single(body, with_request_id=with_request_id), body


def test_well_formed_single_bodies_and_odd_ones():
    good = {"namespace": "acme", "service": "payment", "count": 2, "request_id": "r-1"}
    assert well_formed_request(good, with_request_id=True) == good
    check_body = {k: v for k, v in good.items() if k != "request_id"}
    assert well_formed_request(good, with_request_id=False) == check_body  # an extra key is ignored
    for body in (
        {**good, "namespace": " acme"},
        {**good, "count": "2"},
        {**good, "count": 0},
        {**good, "service": "x" * 51},
        {k: v for k, v in good.items() if k != "count"},
        [good],
        None,
    ):
        assert well_formed_request(body, with_request_id=True) is None, body
        assert single(body, with_request_id=True) is None or body == {**good, "namespace": " acme"}
