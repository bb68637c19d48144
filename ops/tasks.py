from __future__ import annotations

import socket
from typing import Any

from celery import shared_task

from ops.services import heartbeat_record

HEARTBEAT_TASK = "ops.heartbeat"


@shared_task(name=HEARTBEAT_TASK, bind=True, ignore_result=True)
def heartbeat(self: Any) -> str:
    """Beat sends this every ``TALLY_HEARTBEAT_SECONDS``; the worker that runs it writes its row,
    which ``/healthz`` reads ("did a worker answer recently?")."""
    hostname = str(getattr(self.request, "hostname", "") or "") or socket.gethostname()
    heartbeat_record(hostname=hostname)
    return hostname
