"""What one report row (or a report's totals) sums (issues 15 and 20): the figures of a group of
usage records, read from the rollups or from the records, added up exactly.

Sign conventions (docs/purchase-orders.md, "Reports"):

- ``money`` is net: what was charged (the records' ``amount``), a refund or credit negative;
- ``discount`` is what promotions took off (the records' ``discount``), positive; a refund gives
  back the net paid and carries none, so a refund's gross is its money;
- ``gross`` = ``money`` + ``discount``, what the records would have cost without promotions;
- ``corrections`` is the part of ``money`` billed by ``kind=correction`` records (a late event
  positive, a void's refund negative) and ``correction_records`` their count, both *within*
  ``money`` and ``records``, never added to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from config.money import ZERO


@dataclass
class Figures:
    money: Decimal = ZERO
    discount: Decimal = ZERO
    records: int = 0
    corrections: Decimal = ZERO
    correction_records: int = 0

    @property
    def gross(self) -> Decimal:
        return self.money + self.discount

    def add(self, other: Figures) -> None:
        self.money += other.money
        self.discount += other.discount
        self.records += other.records
        self.corrections += other.corrections
        self.correction_records += other.correction_records


Groups = dict[tuple[str, ...], Figures]


def add_to(groups: Groups, key: tuple[str, ...], figures: Figures) -> None:
    groups.setdefault(key, Figures()).add(figures)  # a copy: the caller's object stays its own
