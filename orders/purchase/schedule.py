"""Periodic jobs of purchase orders."""

from config.jobs import PeriodicJob
from orders.purchase.tasks import run_renewals

JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob(
        kind="renewals",
        beat_name="orders.run_renewals",
        task=run_renewals,
        schedule=300.0,  # every 5 minutes (docs/purchase-orders.md)
        about="renew due prepaid purchase orders; renewal-failed notices, ended after the grace period",
        takes_chunk_size=True,
        options={"expires": 290},
    ),
)
