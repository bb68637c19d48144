"""Back office for the catalog. Thin: model admin over the same rules as the services.

A price version or rule that a charge used (``first_used_at`` set) is shown read-only and cannot be
deleted: usage records keep the version they used (docs/plans.md "Used prices are frozen").
Plans are retired, never deleted.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from config import clock
from config.admin_tools import ChangedFieldsSaveMixin, CsvExportMixin, SuperuserChangesOnlyMixin
from config.display import UNIT_PRICE_PLACES, MoneyDetailMixin, money_column
from plans.models import (
    Component,
    MeteredService,
    Plan,
    PlanItem,
    PlanStatus,
    PriceRule,
    PriceVersion,
    Product,
    Promotion,
)
from plans.services import earliest_new_version, plan_retire

FROZEN_PRICE_FIELDS = ("price", "effective_from", "forced", "created_by", "first_used_at")


class UnusedPriceForm(forms.ModelForm):
    """A price version or rule is edited only while no charge has used it, checked again under the
    row's lock when the page is saved: a charge that used the price after the page was read (and
    showed it editable) makes the save a form error, and the admin's transaction holds the lock
    until the row is written, so no charge can use it in between (``price_mark_used`` waits)."""

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean()
        instance = self.instance
        if instance.pk is not None and instance.first_used_at is None and self.has_changed():
            used_at = (
                type(instance)
                .objects.select_for_update()
                .filter(pk=instance.pk)
                .values_list("first_used_at", flat=True)
                .first()
            )
            if used_at is not None:
                raise forms.ValidationError(
                    f"a charge used this price at {used_at:%Y-%m-%d %H:%M:%S %Z} after the page was "
                    "opened: a used price is frozen; reload the page"
                )
        return cleaned


class PriceVersionInlineForm(UnusedPriceForm):
    """Per row: a used version's fields are disabled (Django ignores posted values for them)."""

    class Meta:
        model = PriceVersion
        fields = ("price", "effective_from")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.first_used_at is not None:
            for name in ("price", "effective_from"):
                self.fields[name].disabled = True


class UsedVersionFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        for form in self.forms:
            deleting = self.can_delete and getattr(form, "cleaned_data", {}).get("DELETE")
            if deleting and form.instance.first_used_at is not None:
                when = form.instance.effective_from
                raise forms.ValidationError(f"the price version from {when} was used by a charge: keep it")


class PriceVersionInline(admin.TabularInline):
    model = PriceVersion
    form = PriceVersionInlineForm
    formset = UsedVersionFormSet
    extra = 0
    fields = ("price", "effective_from", "forced", "created_by", "created_at", "first_used_at")
    readonly_fields = ("forced", "created_by", "created_at", "first_used_at")
    ordering = ("effective_from",)


def _stamp_new_version(version: PriceVersion, user: Any) -> None:
    """Recorded like ``price_version_add``: the actor, and ``forced`` if less than a cycle ahead."""
    version.created_by = user
    plan = version.plan
    version.forced = not plan.cycle or version.effective_from < earliest_new_version(plan, clock.now())


class PlanItemInline(admin.TabularInline):
    model = PlanItem
    extra = 0
    fields = ("piid", "name", "price")


@admin.register(Plan)
class PlanAdmin(ChangedFieldsSaveMixin, MoneyDetailMixin, SuperuserChangesOnlyMixin, admin.ModelAdmin):
    list_display = (
        "plan_id",
        "name",
        "plan_type",
        "region_display",
        "billing_mode",
        "cycle",
        "product",
        "status",
    )
    list_filter = ("status", "plan_type", "billing_mode", "cycle", "region")
    search_fields = ("plan_id", "name", "description")
    list_select_related = ("product",)
    inlines = (PriceVersionInline, PlanItemInline)
    readonly_fields = ("created_at", "updated_at")
    actions = ("retire_plans",)

    @admin.display(description="region", ordering="region")
    def region_display(self, obj: Plan) -> str:
        return obj.region or "(all)"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # retire instead: orders refer to plans

    @admin.action(description="Retire selected plans (never delete)")
    def retire_plans(self, request: HttpRequest, queryset: QuerySet[Plan]) -> None:
        count = 0
        for plan in queryset.filter(status=PlanStatus.ACTIVE).order_by("pk"):
            plan_retire(plan=plan, actor=request.user)
            count += 1
        self.message_user(request, f"{count} plan(s) retired.", messages.SUCCESS)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """New price versions typed in the admin are recorded with the staff member."""
        instances = formset.save(commit=False)
        for instance in instances:
            if isinstance(instance, PriceVersion) and instance.pk is None:
                _stamp_new_version(instance, request.user)
            instance.save()
        for obj in formset.deleted_objects:
            obj.delete()
        formset.save_m2m()


@admin.register(PriceVersion)
class PriceVersionAdmin(
    ChangedFieldsSaveMixin, MoneyDetailMixin, SuperuserChangesOnlyMixin, CsvExportMixin, admin.ModelAdmin
):
    form = UnusedPriceForm
    list_display = (
        "plan", money_column("price", places=UNIT_PRICE_PLACES), "effective_from", "forced", "created_by",
        "first_used_at",
    )  # fmt: skip
    list_filter = ("forced", ("first_used_at", admin.EmptyFieldListFilter), "plan__plan_type")
    search_fields = ("plan__plan_id",)
    list_select_related = ("plan", "created_by")
    date_hierarchy = "effective_from"
    readonly_fields = ("created_at", "created_by", "forced", "first_used_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None and obj.first_used_at is not None:
            return ("plan", *FROZEN_PRICE_FIELDS, "created_at")
        return self.readonly_fields

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.first_used_at is not None:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            _stamp_new_version(obj, request.user)
        super().save_model(request, obj, form, change)


class ComponentInline(admin.TabularInline):
    model = Component
    extra = 0
    fields = ("component_id", "name", "billing_mode", "cycle", "unit")


@admin.register(Product)
class ProductAdmin(ChangedFieldsSaveMixin, SuperuserChangesOnlyMixin, admin.ModelAdmin):
    list_display = ("prod_id", "name")
    search_fields = ("prod_id", "name", "description")
    inlines = (ComponentInline,)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # plans and rules refer to products


@admin.register(PriceRule)
class PriceRuleAdmin(ChangedFieldsSaveMixin, MoneyDetailMixin, SuperuserChangesOnlyMixin, admin.ModelAdmin):
    form = UnusedPriceForm
    list_display = (
        "plan", "component", "attrs", money_column("price", places=UNIT_PRICE_PLACES), "effective_from",
        "first_used_at",
    )  # fmt: skip
    date_hierarchy = "effective_from"
    list_filter = (("first_used_at", admin.EmptyFieldListFilter), "component__component_id", "plan__plan_id")
    search_fields = ("plan__plan_id", "component__component_id")
    list_select_related = ("plan", "component", "component__product")
    readonly_fields = ("created_at", "first_used_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None and obj.first_used_at is not None:
            return ("plan", "component", "attrs", "price", "effective_from", "created_at", "first_used_at")
        return self.readonly_fields

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.first_used_at is not None:
            return False
        return super().has_delete_permission(request, obj)


@admin.register(PlanItem)
class PlanItemAdmin(ChangedFieldsSaveMixin, MoneyDetailMixin, SuperuserChangesOnlyMixin, admin.ModelAdmin):
    list_display = ("name", "plan", "piid", money_column("price", places=UNIT_PRICE_PLACES))
    list_filter = ("plan__plan_id",)
    search_fields = ("name", "piid", "plan__plan_id")
    list_select_related = ("plan",)


@admin.register(MeteredService)
class MeteredServiceAdmin(
    ChangedFieldsSaveMixin, MoneyDetailMixin, SuperuserChangesOnlyMixin, admin.ModelAdmin
):
    list_display = (
        "service", money_column("unit_price", "unit price", places=UNIT_PRICE_PLACES), "monthly_free_quota",
        "active",
    )  # fmt: skip
    list_filter = ("active",)
    search_fields = ("service",)


@admin.register(Promotion)
class PromotionAdmin(ChangedFieldsSaveMixin, MoneyDetailMixin, SuperuserChangesOnlyMixin, admin.ModelAdmin):
    """Promotions are catalog (synced in the catalog document too); their redemptions are listed
    in ``billing``'s admin. Never deleted once redeemed (redemptions refer to them): set inactive."""

    # Seven fields folded into three columns so the list fits a 1366 px screen
    # (tests/e2e/test_list_widths.py); the change form shows each field.
    list_display = (
        "code", "name", "kind", money_column("value", places=UNIT_PRICE_PLACES), "lasts", "valid",
        "limits", "redeemed", "status",
    )  # fmt: skip
    list_filter = ("status", "kind", "duration")
    search_fields = ("code", "name", "pmid")
    readonly_fields = ("created_at", "updated_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Promotion]:
        return super().get_queryset(request).annotate(redeemed_count=Count("redemptions"))

    @admin.display(description="lasts", ordering="duration")
    def lasts(self, obj: Promotion) -> str:
        if obj.duration == "periods":
            return f"{obj.duration_periods} periods"
        return str(obj.get_duration_display())

    @admin.display(description="valid", ordering="valid_from")
    def valid(self, obj: Promotion) -> str:
        def day(moment: Any) -> str:
            return clock.local(moment).date().isoformat() if moment is not None else ""

        if obj.valid_from is None and obj.valid_until is None:
            return "always"
        return f"{day(obj.valid_from) or '…'} – {day(obj.valid_until) or '…'}"

    @admin.display(description="limits (total / per account)")
    def limits(self, obj: Promotion) -> str:
        def limit(value: int | None) -> str:
            return "∞" if value is None else str(value)

        return f"{limit(obj.max_redemptions)} / {limit(obj.max_per_account)}"

    @admin.display(description="redeemed", ordering="redeemed_count")
    def redeemed(self, obj: Any) -> int:
        return int(getattr(obj, "redeemed_count", 0))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.redemptions.exists():
            return False
        return super().has_delete_permission(request, obj)
