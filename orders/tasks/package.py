"""Celery tasks for package orders."""
