"""A generic row builder for admin tests: fills every required field of any model with a valid value.

The changelist query-count test must cover every registered model admin, including ones added
later, without a factory per model. Each built row gets its own fresh parents for required foreign
keys, so a list page that fetches a parent per row shows up as a growing query count.
Per-model overrides handle models whose save() insists on more than field types.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import models
from django.utils import timezone

_seq = itertools.count(1)

Builder = Callable[[], models.Model]
OVERRIDES: dict[str, Callable[[type[models.Model]], models.Model]] = {}


def override(label: str) -> Callable[[Callable[[type[models.Model]], models.Model]], Any]:
    def register(fn: Callable[[type[models.Model]], models.Model]) -> Any:
        OVERRIDES[label] = fn
        return fn

    return register


def _value(field: models.Field, depth: int) -> Any:
    n = next(_seq)
    if field.choices:
        return (
            field.choices[0][0]
            if not isinstance(field.choices[0][1], list | tuple)
            else field.choices[0][1][0][0]
        )
    if isinstance(field, models.ForeignKey | models.OneToOneField):
        return build(field.related_model, depth=depth + 1)
    if isinstance(field, models.UUIDField):
        return uuid.uuid4()
    if isinstance(field, models.EmailField):
        return f"u{n}@example.com"
    if isinstance(field, models.GenericIPAddressField):
        return "127.0.0.1"
    if isinstance(field, models.SlugField | models.CharField | models.TextField):
        max_length = field.max_length or 30
        return f"x{n}"[:max_length] if max_length < 12 else f"row-{n}-{uuid.uuid4().hex[:6]}"[:max_length]
    if isinstance(field, models.BooleanField):
        return False
    if isinstance(field, models.DecimalField):
        return Decimal("1")
    if isinstance(field, models.DateTimeField):
        return timezone.now() - timedelta(minutes=n)
    if isinstance(field, models.DateField):
        return timezone.localdate() - timedelta(days=n % 300)
    if isinstance(field, models.DurationField):
        return timedelta(seconds=n)
    if isinstance(field, models.PositiveIntegerField | models.PositiveSmallIntegerField):
        return 1
    if isinstance(field, models.IntegerField | models.BigIntegerField | models.SmallIntegerField):
        return n
    if isinstance(field, models.FloatField):
        return 1
    if isinstance(field, models.JSONField):
        return {}
    if isinstance(field, models.BinaryField):
        return b""
    raise TypeError(f"no generic value for {field.model.__name__}.{field.name} ({type(field).__name__})")


def build(model: type[models.Model], *, depth: int = 0) -> models.Model:
    """Create one saved row of ``model`` with every required field filled."""
    label = model._meta.label
    if label in OVERRIDES:
        return OVERRIDES[label](model)
    if depth > 6:
        raise RecursionError(f"foreign keys of {label} are too deep")
    values: dict[str, Any] = {}
    for field in model._meta.concrete_fields:
        if field.primary_key and isinstance(field, models.AutoField):
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            continue
        if field.null and not field.unique:
            continue
        if field.has_default() and not field.unique:
            continue
        if field.blank and not field.unique and not isinstance(field, models.ForeignKey):
            if isinstance(field, models.CharField | models.TextField):
                continue
        values[field.name] = _value(field, depth)
    return model.objects.create(**values)


@override("auth.User")
def _user(model: type[models.Model]) -> models.Model:
    n = next(_seq)
    return model.objects.create_user(username=f"user{n}", password="x")  # type: ignore[attr-defined]


@override("django_celery_beat.PeriodicTask")
def _periodic_task(model: type[models.Model]) -> models.Model:
    from django_celery_beat.models import IntervalSchedule

    n = next(_seq)
    interval = IntervalSchedule.objects.create(every=60 + n, period=IntervalSchedule.SECONDS)
    return model.objects.create(name=f"task-{n}", task="tally.noop", interval=interval)


@override("django_celery_beat.CrontabSchedule")
def _crontab(model: type[models.Model]) -> models.Model:
    n = next(_seq)
    return model.objects.create(minute=str(n % 60), hour=str(n % 24))


@override("django_celery_beat.SolarSchedule")
def _solar(model: type[models.Model]) -> models.Model:
    n = next(_seq)
    return model.objects.create(event="sunrise", latitude=Decimal(n % 80), longitude=Decimal(n % 170))


@override("billing.Account")
def _account(model: type[models.Model]) -> models.Model:
    n = next(_seq)
    return model.objects.create(
        namespace=f"ns-{n}-{uuid.uuid4().hex[:6]}", currency="CNY", balance=Decimal("0")
    )


@override("billing.LedgerEntry")
def _ledger(model: type[models.Model]) -> models.Model:
    """Ledger rows only come from the money services (balance == sum of the ledger)."""
    from billing.services import account_credit

    account = build(model._meta.get_field("account").related_model)
    return account_credit(
        account_id=account.pk, amount=Decimal("5"), idempotency_key=f"rows-{next(_seq)}"
    ).entry


@override("billing.Statement")
def _statement(model: type[models.Model]) -> models.Model:
    """Documents are numbered (unique year + sequence); the generic 1 for both would collide."""
    n = next(_seq)
    values = {f.name: _value(f, 1) for f in model._meta.concrete_fields if _generic(f)}
    values.update(number=f"TST-{n}", year=2000, sequence=n, issued_by=None)
    return model.objects.create(**values)


@override("billing.CreditNote")
def _credit_note(model: type[models.Model]) -> models.Model:
    n = next(_seq)
    values = {f.name: _value(f, 1) for f in model._meta.concrete_fields if _generic(f)}
    values.update(number=f"TST-CN-{n}", year=2000, sequence=n, actor=None)
    return model.objects.create(**values)


def _generic(field: models.Field) -> bool:
    return not (field.primary_key or field.null or field.name in ("number", "year", "sequence"))


def builder_for(model: type[models.Model]) -> Builder:
    return lambda: build(model)
