"""Celery tasks for purchase orders."""
