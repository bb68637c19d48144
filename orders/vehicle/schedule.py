"""Periodic jobs of vehicle orders."""

from config.jobs import PeriodicJob
from orders.vehicle.tasks import vehicle_lifecycle

JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob(
        kind="vehicle_lifecycle",
        beat_name="orders.vehicle_lifecycle",
        task=vehicle_lifecycle,
        schedule=60.0,  # every minute: starts fall on local midnights or the expected start
        about="vehicle orders take effect (2->4, 3->4 at start) and expire (4->5 at stop)",
        takes_chunk_size=True,
        options={"expires": 55},
    ),
)
