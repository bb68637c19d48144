"""Cross-cutting admin pieces: CSV export of the filtered changelist, superuser-only admins and the
Finance group's permission set.

Every app's ``admin.py`` composes these mixins; none of them holds a business rule. They live in
``config`` because they depend on Django only (the Finance group names permissions by string).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.apps import apps as global_apps
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import label_for_field, lookup_field
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist, PermissionDenied
from django.db.models import DateTimeField, Model
from django.http import HttpRequest, StreamingHttpResponse
from django.urls import URLPattern, path
from django.utils.html import strip_tags
from django.utils.text import capfirst, slugify
from django.utils.timezone import is_aware, now

from config.display import MoneyDetailMixin, csv_time, currency_of

CSV_CHUNK_SIZE = 2000
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    """The write end ``csv.writer`` needs; returns the line so a generator can stream it."""

    def write(self, value: str) -> str:
        return value


def csv_cell(value: Any) -> str:
    """One CSV cell: plain text, ISO dates, exact decimals, and no spreadsheet formulas.

    A text cell starting with ``=``, ``+``, ``-`` or ``@`` is prefixed with a quote so a spreadsheet
    does not run it (CSV injection); numbers such as ``-12.5000`` stay numbers.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime) and is_aware(value):
        return csv_time(value)  # local wall time; the header names TALLY_TIME_ZONE
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | int):
        return str(value)
    text = strip_tags(str(value))
    if text.startswith(FORMULA_PREFIXES):
        try:
            Decimal(text)
        except ArithmeticError:
            return "'" + text
    return text


class CsvExportMixin:
    """Adds ``<changelist>/export/`` streaming the changelist's *filtered* rows as CSV.

    The export builds the same ``ChangeList`` the page shows (filters, search, ordering,
    ``list_select_related``), so what finance sees is what they download; rows are streamed with
    ``iterator()`` so a large export never sits in memory. Columns default to ``list_display``.
    A money column (``config.display.money_column``) exports its exact ``Decimal`` under a header
    naming the currency (``Amount (CNY)``), and a ``Currency`` column per row is added; times are
    local wall times under a header naming ``TALLY_TIME_ZONE``.
    """

    change_list_template = "admin/tally/change_list_export.html"
    csv_fields: Sequence[Any] | None = None  # field names, or money_column(...) entries

    def get_csv_fields(self, request: HttpRequest) -> list[Any]:
        if self.csv_fields is not None:
            return list(self.csv_fields)
        fields = self.get_list_display(request)  # type: ignore[attr-defined]
        return [f for f in fields if f != "action_checkbox"]

    def get_urls(self) -> list[URLPattern]:
        urls: list[URLPattern] = super().get_urls()  # type: ignore[misc]
        opts = self.model._meta  # type: ignore[attr-defined]
        export = path(
            "export/",
            self.admin_site.admin_view(self.export_csv_view),  # type: ignore[attr-defined]
            name=f"{opts.app_label}_{opts.model_name}_export",
        )
        return [export, *urls]

    def export_csv_view(self, request: HttpRequest) -> StreamingHttpResponse:
        if not self.has_view_or_change_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)  # type: ignore[attr-defined]
        fields = self.get_csv_fields(request)
        model = self.model  # type: ignore[attr-defined]
        header = [self._csv_header(model, name) for name in fields]
        money = any(getattr(name, "is_money", False) for name in fields)
        if money and "currency" not in fields:
            header.append("Currency")
        rows = self._csv_rows(changelist.queryset, fields, currency=money and "currency" not in fields)
        writer = csv.writer(_Echo())
        stream = (writer.writerow(row) for row in _prepend(header, rows))
        opts = self.model._meta  # type: ignore[attr-defined]
        filename = f"{slugify(opts.verbose_name_plural)}-{now():%Y%m%d-%H%M%S}.csv"
        response = StreamingHttpResponse(stream, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def _csv_header(self, model: type[Model], name: Any) -> str:
        label = capfirst(str(label_for_field(name, model, self)))  # type: ignore[call-overload]
        if getattr(name, "is_money", False):
            return f"{label} ({settings.TALLY_CURRENCY})"
        try:
            field = model._meta.get_field(name) if isinstance(name, str) else None
        except FieldDoesNotExist:
            field = None
        if isinstance(field, DateTimeField):
            return f"{label} ({settings.TALLY_TIME_ZONE})"
        return label

    def _csv_rows(self, queryset: Any, fields: list[Any], *, currency: bool = False) -> Iterator[list[str]]:
        for obj in queryset.iterator(chunk_size=CSV_CHUNK_SIZE):
            row = [self._csv_value(obj, name) for name in fields]
            yield [*row, currency_of(obj)] if currency else row

    def _csv_value(self, obj: Model, name: Any) -> str:
        money_field = getattr(name, "csv_field", None)
        if money_field is not None:
            value: Any = obj
            for part in money_field.split("__"):
                value = getattr(value, part, None) if value is not None else None
            return csv_cell(value)
        try:
            field, _attr, value = lookup_field(name, obj, self)  # type: ignore[arg-type]
        except (AttributeError, ObjectDoesNotExist):
            return ""
        if field is not None and getattr(field, "choices", None) and not getattr(field, "many_to_one", False):
            display = getattr(obj, f"get_{field.name}_display", None)
            if display is not None:
                return csv_cell(display())
        return csv_cell(value)


def _prepend(first: list[str], rest: Iterable[list[str]]) -> Iterator[list[str]]:
    yield first
    yield from rest


class ChangedFieldsSaveMixin:
    """A change page's Save writes only the columns its form changed (and ``auto_now`` ones).

    Django's admin saves the whole row it read at the start of the request: a transition or a
    charge committed between that read and the save (a renewal by beat, a gateway's deduct) was
    written back over, the balance or status it moved restored. Fields only services move (state,
    money, periods) are read-only on these pages, so the form never changes them and this never
    writes them (``tests/admin/test_changed_fields_save.py``). A column that the model's ``clean()``
    or the admin's ``save_model`` set (not a form field) is written too: it is compared with the
    value the page read."""

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        obj = super().get_object(request, object_id, from_field)  # type: ignore[misc]
        if obj is not None:
            obj._admin_read_values = {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}
        return obj

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        read: dict[str, Any] | None = getattr(obj, "_admin_read_values", None)
        if not change or read is None:
            super().save_model(request, obj, form, change)  # type: ignore[misc]
            return
        columns = [f for f in obj._meta.concrete_fields if not f.primary_key]
        form_changed = set(form.changed_data)
        fields = [
            f.name
            for f in columns
            if f.name in form_changed
            or getattr(f, "auto_now", False)
            or getattr(obj, f.attname) != read[f.attname]
        ]
        obj.save(update_fields=fields)


class ReadOnlyAdmin(MoneyDetailMixin, admin.ModelAdmin):
    """An admin page of a history table (ledger, usage records, statements): shown, never added,
    changed or deleted by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SuperuserOnlyMixin:
    """Only superusers see or touch these models (django-celery-beat schedules)."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)


class SuperuserChangesOnlyMixin:
    """Anyone with the view permission may look; only superusers add, change or delete (the catalog).

    This holds even if someone later grants ``plans.change_plan`` to a group by mistake.
    """

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)


BEAT_MODELS = (
    "django_celery_beat.PeriodicTask",
    "django_celery_beat.IntervalSchedule",
    "django_celery_beat.CrontabSchedule",
    "django_celery_beat.SolarSchedule",
    "django_celery_beat.ClockedSchedule",
)


def restrict_to_superusers(site: admin.AdminSite, model_labels: Iterable[str] = BEAT_MODELS) -> None:
    """Re-register the given models' admins with :class:`SuperuserOnlyMixin` in front.

    Called once from ``config/urls.py`` (after autodiscovery). Safe to call twice.
    """
    for label in model_labels:
        try:
            model = global_apps.get_model(label)
        except LookupError:
            continue
        current = site._registry.get(model)
        if current is None or isinstance(current, SuperuserOnlyMixin):
            continue
        admin_class = type(current)
        site.unregister(model)
        restricted = type(f"SuperuserOnly{admin_class.__name__}", (SuperuserOnlyMixin, admin_class), {})
        site.register(model, restricted)


# --- Finance group -----------------------------------------------------------------------------
FINANCE_GROUP = "Finance"
# The admin actions' permissions: codename -> (app label, model name, human name). Created by the
# Finance migration (and by :func:`sync_finance_group`) when the models' Meta does not declare them.
ORDER_ACTION_PERMISSIONS: dict[str, tuple[str, str, str]] = {
    "cancel_purchaseorder": ("orders", "purchaseorder", "Can cancel purchase orders (admin action)"),
    "renew_purchaseorder": ("orders", "purchaseorder", "Can renew purchase orders (admin action)"),
    "cancel_packageorder": ("orders", "packageorder", "Can cancel package orders (admin action)"),
    "renew_packageorder": ("orders", "packageorder", "Can renew package orders (admin action)"),
    "cancel_vehicleorder": ("orders", "vehicleorder", "Can cancel vehicle orders (admin action)"),
    "renew_vehicleorder": ("orders", "vehicleorder", "Can renew vehicle orders (admin action)"),
    "underwrite_vehicleorder": ("orders", "vehicleorder", "Can underwrite vehicle orders (admin action)"),
}
# Extra permissions Finance gets besides "view" on every model, as (app label, codename).
FINANCE_EXTRA_PERMISSIONS: tuple[tuple[str, str], ...] = (
    ("billing", "adjust_balance"),
    ("billing", "issue_statement"),
    ("billing", "view_any_account"),  # the API's read of any namespace (orders.0009); not act_for_any_account
)
# Apps whose models finance may only look at, never change; superusers edit them.
FINANCE_VIEW_ONLY_APPS = ("plans",)
# Never granted, not even "view": operational internals finance has no use for.
FINANCE_HIDDEN_APPS = ("django_celery_beat", "sessions", "authtoken")


def sync_finance_group(apps: Any = global_apps) -> Any:
    """Create or refresh the ``Finance`` group; idempotent. Works with migration (historical) apps.

    Finance gets ``view`` on every model (except the hidden apps), the order-action permissions that
    exist, and ``billing.adjust_balance``; never add/change/delete on the catalog (``plans``).
    """
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")

    for codename, (app_label, model_name, name) in ORDER_ACTION_PERMISSIONS.items():
        try:
            apps.get_model(app_label, model_name)
        except LookupError:
            continue
        content_type, _ = ContentType.objects.get_or_create(app_label=app_label, model=model_name)
        Permission.objects.get_or_create(
            content_type=content_type, codename=codename, defaults={"name": name[:255]}
        )

    group, _ = Group.objects.get_or_create(name=FINANCE_GROUP)
    wanted = Permission.objects.filter(codename__startswith="view_").exclude(
        content_type__app_label__in=FINANCE_HIDDEN_APPS
    )
    perms = set(wanted.values_list("pk", flat=True))
    perms |= set(
        Permission.objects.filter(codename__in=list(ORDER_ACTION_PERMISSIONS)).values_list("pk", flat=True)
    )
    for app_label, codename in FINANCE_EXTRA_PERMISSIONS:
        perms |= set(
            Permission.objects.filter(content_type__app_label=app_label, codename=codename).values_list(
                "pk", flat=True
            )
        )
    group.permissions.set(sorted(perms))
    return group
