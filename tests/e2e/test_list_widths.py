"""Every list finance opens fits a 1366 px screen (issue 17.2): with the demo data loaded, no
changelist's table scrolls sideways, and no status, deadline, time or money cell wraps."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse

from tests.e2e.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# lists that are operational internals (not finance's) or have no money/time columns to speak of
SKIP = {"auth.Group", "auth.User", "axes.AccessAttempt", "axes.AccessFailureLog", "axes.AccessLog"}
WIDTH = r"""() => {
  const ONE_LINE = /field-(status|deadline|state|created_at|updated_at|paid_at|period|region|kind)/;
  const box = document.querySelector('#changelist-form .results');
  if (!box) return {scroll: 0, client: 0, wrapped: []};
  const wrapped = [];
  for (const td of document.querySelectorAll('#result_list tbody td, #result_list tbody th')) {
    const money = td.querySelector('.tally-money');
    const cls = td.className || '';
    const oneLine = money || ONE_LINE.test(cls);
    if (!oneLine) continue;
    const range = document.createRange();
    range.selectNodeContents(td);
    const tops = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
    if (tops.size > 1) wrapped.push(cls + ': ' + td.innerText.replace(/\s+/g, ' '));
  }
  return {scroll: box.scrollWidth, client: box.clientWidth, wrapped};
}"""


def test_every_finance_list_fits_1366_px(page: Any, live_server: Any, finance_user: Any) -> None:
    import config.urls  # noqa: F401  (the admin as the site serves it)

    call_command("load_demo", verbosity=0)
    login(page, live_server.url, "fiona", "pass-fiona")
    problems = []
    for model in sorted(admin.site._registry, key=lambda m: m._meta.label):
        label = model._meta.label
        if label in SKIP or not finance_user.has_perm(
            f"{model._meta.app_label}.view_{model._meta.model_name}"
        ):
            continue
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        page.goto(live_server.url + url)
        measured = page.evaluate(WIDTH)
        if measured["scroll"] > measured["client"] + 1:
            problems.append(f"{label}: table {measured['scroll']} px in {measured['client']} px")
        problems.extend(f"{label}: wrapped {cell}" for cell in measured["wrapped"])
    assert not problems, "\n".join(problems)
