"""Filters of ``GET /api/v1/plans``."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from plans.models import BillingMode, Plan, PlanStatus


class PlanFilter(django_filters.FilterSet):
    region = django_filters.CharFilter(
        method="filter_region", max_length=50, help_text="plans of this region and plans of every region"
    )
    plan_type = django_filters.CharFilter(max_length=50)
    billing_mode = django_filters.ChoiceFilter(choices=BillingMode.choices)
    status = django_filters.ChoiceFilter(choices=PlanStatus.choices)

    class Meta:
        model = Plan
        fields = ["region", "plan_type", "billing_mode", "status"]

    def filter_region(self, queryset: QuerySet[Plan], name: str, value: str) -> QuerySet[Plan]:
        """A plan without region serves every region, so it is offered in each."""
        return queryset.filter(Q(region=value) | Q(region=""))
