"""Celery discovers ``orders.tasks``; each order family registers its tasks in its own module."""

from orders.tasks import package, purchase, vehicle  # noqa: F401
