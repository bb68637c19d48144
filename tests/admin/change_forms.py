"""The POST body a browser would send for an admin change page as it was rendered: every editable
field of the main form and of each inline with the value the page showed (split date/time widgets
as their two inputs, unchecked boxes left out), plus the inlines' management forms."""

from __future__ import annotations

from typing import Any

from django import forms


def _form_fields(form: forms.BaseForm) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        key = form.add_prefix(name)
        value = form[name].value()
        widget = field.widget
        if isinstance(widget, forms.MultiWidget):
            for index, part in enumerate(widget.decompress(value)):
                data[f"{key}_{index}"] = "" if part is None else part
        elif isinstance(widget, forms.CheckboxInput):
            if value:
                data[key] = "on"
        elif value is not None:
            data[key] = value
    return data


def change_form_data(response: Any) -> dict[str, Any]:
    """What submitting ``response``'s change form unchanged would post (edit the dict, then post)."""
    data = _form_fields(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
        for form in formset.forms:
            data |= _form_fields(form)
    data["_save"] = "Save"
    return data
