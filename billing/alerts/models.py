"""Per-account alert thresholds and the state that makes an alert fire once per crossing.

``AlertThreshold``: at most one row per account; a null field inherits the deployment default
(``BALANCE_ALERT_BELOW``, ``RUNWAY_ALERT_DAYS``) and ``0`` switches that alert off (a balance is
never below 0, a runway never below 0 days). No row means both defaults.

``AlertState``: one row per (account, kind), unique, created the first time the account is under
the threshold. ``fired_at`` set means "notified, waiting for recovery": the evaluator notifies only
rows whose ``fired_at`` is null and clears it once the account is back at or above the threshold
(re-armed), so a long stay under a threshold is one notification, and each new crossing is one more.
"""

from __future__ import annotations

from django.db import models


class AlertKind(models.TextChoices):
    BALANCE_LOW = "balance_low"
    RUNWAY_LOW = "runway_low"


class AlertThreshold(models.Model):
    account = models.OneToOneField(
        "billing.Account", on_delete=models.CASCADE, related_name="alert_threshold"
    )
    balance_below = models.DecimalField(
        max_digits=20,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="notify when the balance is below this; empty: the deployment default, 0: off",
    )
    runway_below_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="notify when balance / daily burn is below this many days; empty: the deployment "
        "default, 0: off",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(balance_below__gte=0) | models.Q(balance_below__isnull=True),
                name="alert_balance_below_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} balance<{self.balance_below} runway<{self.runway_below_days}d"


class AlertState(models.Model):
    account = models.ForeignKey("billing.Account", on_delete=models.CASCADE, related_name="alert_states")
    kind = models.CharField(max_length=12, choices=AlertKind.choices)
    fired_at = models.DateTimeField(null=True, blank=True, help_text="notified; cleared on recovery")
    # What the last notification said (the evaluator's figures at that moment).
    balance = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    runway_days = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    threshold = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    crossings = models.PositiveIntegerField(default=0, help_text="notifications sent so far")
    rearmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "kind"], name="uniq_alert_state_account_kind"),
        ]
        indexes = [models.Index(fields=["kind", "fired_at"])]

    def __str__(self) -> str:
        return f"{self.account_id} {self.kind} {'fired' if self.fired_at else 'armed'}"
