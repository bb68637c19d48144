"""``make run``'s ``.env`` (config/dotenv.py): created once, kept on later runs, PUBLIC_BASE_URL
following PORT unless chosen, and the environment winning over the file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from config.dotenv import BASE_DIR, read_pairs, rendered, write


def test_a_new_file_has_debug_a_secret_key_the_port_and_its_url():
    pairs = read_pairs(rendered("", {}))
    assert pairs["DEBUG"] == "1" and pairs["PORT"] == "8000"
    assert pairs["PUBLIC_BASE_URL"] == "http://127.0.0.1:8000"
    assert len(pairs["SECRET_KEY"]) >= 50
    assert read_pairs(rendered("", {}))["SECRET_KEY"] != pairs["SECRET_KEY"]  # generated, not a default


def test_a_later_run_keeps_the_key_and_other_lines_and_follows_the_port():
    first = rendered("", {})
    edited = first + "NOTIFY_URL=http://hooks.example/tally\n"
    again = rendered(edited, {"PORT": "8833"})
    old, new = read_pairs(edited), read_pairs(again)
    assert new["SECRET_KEY"] == old["SECRET_KEY"] and new["NOTIFY_URL"] == "http://hooks.example/tally"
    assert new["PORT"] == "8833" and new["PUBLIC_BASE_URL"] == "http://127.0.0.1:8833"
    assert rendered(again, {"PORT": "8833"}) == again  # nothing to change: the file is not rewritten


def test_a_chosen_public_url_is_kept_and_the_environment_one_wins():
    chosen = rendered("", {}).replace("http://127.0.0.1:8000", "https://tally.example")
    assert read_pairs(rendered(chosen, {"PORT": "9000"}))["PUBLIC_BASE_URL"] == "https://tally.example"
    from_env = rendered(chosen, {"PUBLIC_BASE_URL": "https://other.example"})
    assert read_pairs(from_env)["PUBLIC_BASE_URL"] == "https://other.example"


def _settings_seen(env_file: Path, **env: str) -> list[str]:
    """DEBUG, PUBLIC_BASE_URL and whether SECRET_KEY came from the file, as manage.py sees them."""
    dropped = ("DEBUG", "SECRET_KEY", "PORT", "PUBLIC_BASE_URL")
    base = {k: v for k, v in os.environ.items() if k not in dropped}
    code = (
        "from django.conf import settings; "
        "print(settings.DEBUG, settings.PUBLIC_BASE_URL, settings.SECRET_KEY.startswith('from-file'))"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=BASE_DIR,
        env={**base, "TALLY_ENV_FILE": str(env_file), **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()


def test_manage_py_reads_the_file_and_the_environment_wins(tmp_path):
    env_file = write(tmp_path / ".env", {"PORT": "8833"})
    env_file.write_text(env_file.read_text().replace("SECRET_KEY=", "SECRET_KEY=from-file-"))
    assert _settings_seen(env_file) == ["True", "http://127.0.0.1:8833", "True"]
    chosen = _settings_seen(env_file, PUBLIC_BASE_URL="https://x.example")
    assert chosen == ["True", "https://x.example", "True"]
    assert oct(env_file.stat().st_mode & 0o777) == "0o600"


def test_the_test_suite_never_reads_a_developers_file():
    from django.conf import settings

    assert "from-file" not in settings.SECRET_KEY
