"""``manage.py usage_report --period YYYY-MM | --from --to [--namespace NS] [--by order|account]
[--format table|csv|json] [--output FILE] [--totals FILE] [--chart FILE.png|.svg]``

The same selector as ``GET /usageapi/v1/reports`` (``usage.selectors.usage_report``): money that
moved (paid records and refunds, net of promotions), its gross and discount, the corrections within
it (``usage.figures``), arrears beside it. The chart is the money moved per local day of
the range, stacked by plan (``--by order``) or by account.

Only the report goes to stdout (or ``--output``), so ``--format csv|json`` can be piped into another
program; every message ("written to ...") goes to stderr. A CSV holds the data rows only: the totals
are a CSV of their own (``--totals FILE``; with ``--output X.csv`` they go to ``X.totals.csv``
unless ``--totals`` names another file; on stdout alone they are a line on stderr).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from django.core.management.base import CommandError, CommandParser

from billing.models import Account
from config.api.envelope import TallyJSONEncoder
from config.commands import TallyCommand
from config.money import money2
from usage.selectors import (
    daily_series,
    range_label,
    report_csv,
    report_range,
    report_totals_csv,
    usage_report,
)


class Command(TallyCommand):
    help = "Consumption report per order or per account for a month or a [from, to) range."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--period", help="YYYY-MM (a local calendar month)")
        parser.add_argument("--from", dest="start", help="ISO date or date-time (inclusive)")
        parser.add_argument("--to", dest="end", help="ISO date or date-time (exclusive)")
        parser.add_argument("--namespace", help="one account (default: every account)")
        parser.add_argument("--by", choices=["order", "account"], default="order")
        parser.add_argument("--format", choices=["table", "csv", "json"], default="table")
        parser.add_argument("--output", help="write the report to this file instead of stdout")
        parser.add_argument("--totals", help="csv: write the totals to this file (default X.totals.csv)")
        parser.add_argument("--chart", help="also draw the money moved per local day to FILE.png or FILE.svg")

    def handle(self, *args: Any, **opts: Any) -> None:
        errors: dict[str, list[str]] = {}
        start, end = report_range(opts["period"], opts["start"], opts["end"], errors)
        if errors or start is None or end is None:
            raise CommandError("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))
        account_ids = None
        if opts["namespace"]:
            account = Account.objects.filter(namespace=opts["namespace"]).first()
            if account is None:
                raise CommandError(f"namespace {opts['namespace']!r} not found")
            account_ids = [account.pk]
        if opts["chart"] and Path(opts["chart"]).suffix.lower() not in (".png", ".svg"):
            raise CommandError("--chart must end in .png or .svg")
        report = usage_report(start=start, end=end, group_by=opts["by"], account_ids=account_ids)
        text = self._render(report, opts["format"])
        if opts["output"]:
            Path(opts["output"]).write_text(text, encoding="utf-8")
            self.note(f"report written to {opts['output']}")
        else:
            self.stdout.write(text, ending="")  # data
        if opts["format"] == "csv":
            totals = opts["totals"] or (
                str(Path(opts["output"]).with_suffix(".totals.csv")) if opts["output"] else None
            )
            if totals:
                Path(totals).write_text(report_totals_csv(report), encoding="utf-8")
                self.note(f"totals written to {totals}")
            else:
                self.note(self._total_line(report))
        if opts["chart"]:
            series = daily_series(start=start, end=end, by=opts["by"], account_ids=account_ids)
            draw_chart(series, Path(opts["chart"]), title=f"Money per day {range_label(start, end)}")
            self.note(f"chart written to {opts['chart']}")

    def _total_line(self, report: Any) -> str:
        return (
            f"TOTAL {money2(report.total)} in {report.records} record(s); "
            f"arrears {money2(report.arrears)} in {report.arrears_records} record(s); "
            f"gross {money2(report.gross)}, discount {money2(report.discount)}; "
            f"corrections {money2(report.corrections)} in {report.correction_records} record(s); "
            f"{range_label(report.start, report.end)}"
        )

    def _figures(self, r: dict[str, Any]) -> str:
        return (
            f"{money2(r['gross']):>12} {money2(r['discount']):>10} {money2(r['amount']):>12} "
            f"{r['records']:>5} {money2(r['corrections']):>11} {money2(r['arrears']):>10}"
        )

    def _render(self, report: Any, fmt: str) -> str:
        if fmt == "csv":
            return report_csv(report)
        if fmt == "json":
            return json.dumps(report.as_dict(), cls=TallyJSONEncoder, indent=2) + "\n"
        lines = [range_label(report.start, report.end)]
        # money is net; corrections are within it (usage.figures)
        head = f"{'gross':>12} {'discount':>10} {'money':>12} {'n':>5} {'corrections':>11} {'arrears':>10}"
        if report.group_by == "order":
            lines.append(f"{'namespace':<20} {'order_id':<30} {'region':<14} {'plan':<16} {head}")
            for r in report.rows:
                lines.append(
                    f"{r['namespace']:<20} {r['order_id']:<30} {r['region']:<14} {r['plan_id']:<16} "
                    + self._figures(r)
                )
        else:
            lines.append(f"{'namespace':<20} {head}")
            for r in report.rows:
                lines.append(f"{r['namespace']:<20} " + self._figures(r))
        lines.append(self._total_line(report))
        return "\n".join(lines) + "\n"


def draw_chart(series: list[Any], path: Path | IO[bytes], *, title: str, fmt: str | None = None) -> None:
    """Stacked bars: one bar per day, one colour per plan (or account). Agg backend: no display."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    days = sorted({d for d, _, _ in series})
    keys = sorted({k for _, k, _ in series})
    values = {(d, k): a for d, k, a in series}
    fig, ax = plt.subplots(figsize=(10, 4))
    bottom = [Decimal(0)] * len(days)
    for key in keys:
        heights = [values.get((d, key), Decimal(0)) for d in days]
        ax.bar([d.isoformat() for d in days], heights, bottom=bottom, label=key or "-")  # type: ignore[arg-type]
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ax.set_title(title)
    ax.set_ylabel("money")
    if keys:
        ax.legend(fontsize="small")
    ax.tick_params(axis="x", labelrotation=60, labelsize=7)
    fig.tight_layout()
    fig.savefig(path, format=fmt)
    plt.close(fig)
