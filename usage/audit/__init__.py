"""The ledger audit: ``ledger_audit()`` (the checks, ``usage.audit.checks``) and the recorded runs
(``audit_run_record``, ``usage.audit.runs``). Callers import from here; the API is stable."""

from usage.audit.checks import CHECKS, ledger_audit, ledger_entry_count
from usage.audit.runs import audit_run_record, findings_csv_write
from usage.audit.sql import Finding

__all__ = [
    "CHECKS",
    "Finding",
    "audit_run_record",
    "findings_csv_write",
    "ledger_audit",
    "ledger_entry_count",
]
