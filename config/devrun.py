"""``make run``: the web server, one Celery worker and beat, stopped together by Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

PY = sys.executable


def main() -> int:
    port = os.environ.get("PORT", "8000")
    env = {**os.environ, "DEBUG": os.environ.get("DEBUG", "1")}
    commands = {
        "web": [PY, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        "worker": [PY, "-m", "celery", "-A", "config", "worker", "--loglevel=INFO", "--concurrency=2"],
        "beat": [PY, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO"],
    }
    procs = {name: subprocess.Popen(cmd, env=env) for name, cmd in commands.items()}
    print(
        f"Tally is starting: http://127.0.0.1:{port}/admin/  (Ctrl-C stops web, worker and beat)", flush=True
    )

    def stop(*_: object) -> None:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()

    def on_term(*_: object) -> None:
        stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_term)
    # Started from a script in the background, SIGINT arrives ignored (inherited SIG_IGN) and
    # Python keeps it so; install the usual handler so Ctrl-C / kill -INT always stops everything.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        while True:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    print(f"{name} exited with {proc.returncode}; stopping the others", flush=True)
                    stop()
                    return proc.returncode or 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        stop()
        return 0


if __name__ == "__main__":
    sys.exit(main())
