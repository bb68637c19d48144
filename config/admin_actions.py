"""Admin actions that need a reason (order cancel/renew/underwrite, recharge review resolution).

:func:`reason_action` builds a Django admin action with an intermediate confirmation page that asks
for a mandatory reason (and optional checkboxes such as "refund the unused days"). On confirmation
it calls the given service once per selected order, in primary-key order, each in its own
transaction (the service owns it), and reports per order what happened. The services write the order
events; the action adds a ``LogEntry`` so the admin's own history shows who did it and why.

The action is thin: the same service functions back the API, so no rule lives here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from config.exceptions import DomainError

REASON_MAX_LENGTH = 500
CONFIRM_FIELD = "tally_confirm"
CHOICE_FIELD = "_tally_choice"

# service(obj, *, actor, reason, **options) -> optional note shown after "done"
ReasonService = Callable[..., Any]
# the confirm button's text for the selected objects ("Cancel order and refund CNY 19.67")
ConfirmLabel = Callable[[list[Any]], str]


@dataclass(frozen=True)
class Choice:
    """One confirm button: its text and the options it sets (instead of checkboxes)."""

    label: str
    options: dict[str, bool]


# the confirm buttons for the selected objects; each says what it does
ChoiceButtons = Callable[[list[Any]], list[Choice]]


@dataclass(frozen=True)
class ActionOption:
    """A checkbox on the confirmation page, passed to the service as a keyword argument."""

    name: str
    label: str
    initial: bool = False
    help_text: str = ""


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=REASON_MAX_LENGTH,
        required=True,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Mandatory. Stored with the order event and in the admin history.",
    )

    def __init__(self, *args: Any, options: Sequence[ActionOption] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for option in options:
            self.fields[option.name] = forms.BooleanField(
                required=False, initial=option.initial, label=option.label, help_text=option.help_text
            )


def _refusal(exc: Exception) -> str:
    if isinstance(exc, DomainError):
        return exc.message
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    return str(exc)


# Over 60 lines only by its docstring and keyword calls: the action Django calls takes (modeladmin,
# request, queryset) only, so it is a closure over these options; its steps are _chosen_options,
# _apply and _confirmation_page.
def reason_action(
    *,
    name: str,
    label: str,
    service: ReasonService,
    permission: str,
    verb: str,
    options: Sequence[ActionOption] = (),
    refused: tuple[type[Exception], ...] = (DomainError, ValidationError),
    confirm: ConfirmLabel | None = None,
    choices: ChoiceButtons | None = None,
    describe: Callable[[Any], str] | None = None,
) -> Callable[[admin.ModelAdmin, HttpRequest, QuerySet[Any]], HttpResponse | None]:
    """Build an admin action ``name`` that asks for a reason, then calls ``service`` per order.

    ``permission`` is the action's ``allowed_permissions`` entry (``cancel`` -> the admin's
    ``has_cancel_permission``). ``verb`` is the past tense shown to the user ("canceled").
    Exceptions in ``refused`` are reported as "refused: <why>" for that order; anything else is a
    bug and propagates.
    The confirm button says what it does: ``confirm(objects)`` gives its text (default the label);
    ``choices(objects)`` gives several buttons instead, each setting the options (no checkboxes),
    e.g. "Cancel order and refund CNY 19.67" beside "Cancel order, no refund". ``describe(obj)``
    is the line listing each selected object on the confirmation page (default ``str(obj)``).
    """

    def action(
        modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Any]
    ) -> HttpResponse | None:
        check = getattr(modeladmin, f"has_{permission}_permission", None)
        if check is None or not check(request):
            raise PermissionDenied
        orders = list(queryset.order_by("pk"))
        buttons = choices(orders) if choices is not None else []
        form = ReasonForm(request.POST if request.POST.get(CONFIRM_FIELD) else None, options=options)
        if form.is_bound and form.is_valid():
            _apply(
                modeladmin,
                request,
                orders,
                service=service,
                reason=form.cleaned_data["reason"],
                options=_chosen_options(form, request, options, buttons),
                verb=verb,
                label=label,
                refused=refused,
            )
            return None
        return _confirmation_page(
            modeladmin,
            request,
            queryset,
            orders,
            form=form,
            name=name,
            label=label,
            buttons=buttons,
            options=options,
            confirm_label=confirm(orders) if confirm is not None else label,
            described=[describe(o) if describe is not None else str(o) for o in orders],
        )

    action.__name__ = name
    action.allowed_permissions = (permission,)  # type: ignore[attr-defined]
    action.short_description = label  # type: ignore[attr-defined]
    return action


def _chosen_options(
    form: ReasonForm, request: HttpRequest, options: Sequence[ActionOption], buttons: list[Choice]
) -> dict[str, bool]:
    """The ticked options, overridden by the options of the button pressed (if any)."""
    chosen = {option.name: bool(form.cleaned_data.get(option.name)) for option in options}
    picked = request.POST.get(CHOICE_FIELD, "")
    if buttons and picked.isdigit() and int(picked) < len(buttons):
        chosen = {**chosen, **buttons[int(picked)].options}
    return chosen


def _confirmation_page(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[Any],
    orders: list[Any],
    *,
    form: ReasonForm,
    name: str,
    label: str,
    buttons: list[Choice],
    options: Sequence[ActionOption],
    confirm_label: str,
    described: list[str],
) -> TemplateResponse:
    """The page asking for the reason (and the options or buttons) before anything happens."""
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": f"{label}: are you sure?",
        "subtitle": None,
        "action_name": name,
        "action_label": label,
        "objects": orders,
        "described": described,
        "form": form,
        "opts": modeladmin.model._meta,
        "queryset": queryset,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "confirm_field": CONFIRM_FIELD,
        "confirm_label": confirm_label,
        "choice_field": CHOICE_FIELD,
        "choices": buttons,
        "hidden_options": {option.name for option in options} if buttons else set(),
        "media": modeladmin.media + form.media,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, "admin/tally/reason_action.html", context)


def _apply(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    orders: list[Model],
    *,
    service: ReasonService,
    reason: str,
    options: dict[str, bool],
    verb: str,
    label: str,
    refused: tuple[type[Exception], ...],
) -> None:
    done = 0
    for order in orders:
        try:
            note = service(order, actor=request.user, reason=reason, **options)
        except refused as exc:
            messages.error(request, f"{order}: refused: {_refusal(exc)}")
            continue
        done += 1
        chosen = ", ".join(key for key, value in options.items() if value)
        log = f"{label} (reason: {reason}{'; ' + chosen if chosen else ''})"
        modeladmin.log_change(request, order, log)
        suffix = f" ({note})" if isinstance(note, str) and note else ""
        messages.success(request, f"{order}: {verb}{suffix}.")
    if len(orders) > 1:
        level = messages.SUCCESS if done == len(orders) else messages.WARNING
        messages.add_message(request, level, f"{label}: {done} of {len(orders)} done.")
