"""Celery tasks for vehicle orders."""
