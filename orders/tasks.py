"""Celery discovers ``orders.tasks``; each order family registers its tasks in its own module.

Task names (``name=`` on each task) do not follow the module path: they are sent by name and
stay the same wherever the code lives."""

from orders.package import tasks as package_tasks  # noqa: F401
from orders.purchase import tasks as purchase_tasks  # noqa: F401
from orders.vehicle import tasks as vehicle_tasks  # noqa: F401
