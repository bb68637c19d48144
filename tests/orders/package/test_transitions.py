"""The package maps: every move the services make is in them, every other one is refused with
the family's 409 and nothing written."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction

from orders.models import InstanceStatus, PackageOrderEvent, PackageOrderStatus, ProductInstance
from orders.package.errors import PackageInstanceStateError, PackageOrderStateError
from orders.package.lifecycle import instance_pause, instance_resume
from orders.package.services import package_order_cancel, package_order_charge
from orders.package.transitions import INSTANCE_MOVES, ORDER_MOVES, instance_move, order_lock, order_move
from tests.orders.package.factories import T0, create_order, funded_account, make_catalog

pytestmark = pytest.mark.django_db


def test_the_maps_are_the_documented_moves() -> None:
    assert ORDER_MOVES == {
        (PackageOrderStatus.UNPAID, PackageOrderStatus.PAID): "charge",
        (PackageOrderStatus.UNPAID, PackageOrderStatus.CANCELED): "cancel",
    }
    assert set(INSTANCE_MOVES) == {
        (InstanceStatus.PENDING, InstanceStatus.RUNNING),
        (InstanceStatus.PENDING, InstanceStatus.CANCELED),
        (InstanceStatus.RUNNING, InstanceStatus.PAUSED),
        (InstanceStatus.RUNNING, InstanceStatus.SUSPENDED),
        (InstanceStatus.RUNNING, InstanceStatus.STOPPED),
        (InstanceStatus.PAUSED, InstanceStatus.RUNNING),
        (InstanceStatus.PAUSED, InstanceStatus.STOPPED),
        (InstanceStatus.SUSPENDED, InstanceStatus.RUNNING),
        (InstanceStatus.SUSPENDED, InstanceStatus.STOPPED),
    }


def test_a_pending_instance_is_not_resumed_and_nothing_is_written() -> None:
    make_catalog()
    account = funded_account("alice", "1000")
    res = create_order(account)
    events = PackageOrderEvent.objects.count()
    with pytest.raises(PackageInstanceStateError) as exc:
        instance_resume(prod_inst_id_ext="i-1", account_id=account.pk)
    assert int(exc.value.code_for("package")) == 3405 and exc.value.http_status == 409
    assert str(exc.value) == "instance i-1 is pending: only a paused or suspended one resumes"
    assert ProductInstance.objects.get(order=res.order).status == InstanceStatus.PENDING
    assert PackageOrderEvent.objects.count() == events


def test_moves_outside_the_map_are_refused_below_the_services() -> None:
    make_catalog()
    account = funded_account("alice", "1000")
    res = create_order(account)
    package_order_charge(order_pk=res.order.pk, at=T0 + timedelta(minutes=1))
    instance = ProductInstance.objects.get(order=res.order)
    with transaction.atomic():
        order = order_lock(res.order.pk)
        with pytest.raises(PackageOrderStateError):
            order_move(order=order, to=PackageOrderStatus.CANCELED, action="cancel", reason="canceled", at=T0)
        with pytest.raises(PackageInstanceStateError):
            # running -> running is not a move, whatever the operation calls itself
            instance_move(
                instance=instance, order=order, to=InstanceStatus.RUNNING, action="resume", reason="x", at=T0
            )
    with pytest.raises(PackageOrderStateError) as exc:
        package_order_cancel(order_pk=res.order.pk)
    assert str(exc.value) == f"order {res.order.order_id} is paid: only an unpaid order can be canceled"


def test_replays_write_no_second_event() -> None:
    make_catalog()
    account = funded_account("alice", "1000")
    res = create_order(account)
    package_order_charge(order_pk=res.order.pk, at=T0 + timedelta(minutes=1))
    package_order_charge(order_pk=res.order.pk, at=T0 + timedelta(minutes=2))
    instance_pause(prod_inst_id_ext="i-1", account_id=account.pk)
    instance_pause(prod_inst_id_ext="i-1", account_id=account.pk)
    reasons = list(PackageOrderEvent.objects.filter(order=res.order).values_list("reason", flat=True))
    assert reasons.count("charged") == 2  # one for the order, one for its instance
    assert reasons.count("paused") == 1
