"""The local ``.env`` that ``make run`` writes, so that every README command works as written in a
second terminal (``manage.py create_api_user bob`` needs the same DEBUG and SECRET_KEY as the
server).

``python -m config.dotenv`` (the first step of ``make run``) creates the file, or updates it in
place: an existing ``SECRET_KEY`` and every line it does not manage are kept; ``PORT`` is this
run's port (``$PORT``, default 8000), and ``PUBLIC_BASE_URL`` follows it unless ``$PUBLIC_BASE_URL``
is set or the file holds one that is not the generated ``http://127.0.0.1:<port>`` form.

Settings read the file with django-environ's ``read_env`` when it exists (``TALLY_ENV_FILE``
names another file; an empty value reads none). The environment always wins over the file, and
the test suite never reads it (a developer's ``.env`` must not change what the tests see).
"""

from __future__ import annotations

import os
import re
import secrets
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
GENERATED_URL = re.compile(r"^http://127\.0\.0\.1:\d+/?$")
HEADER = "# Written by `make run` for this checkout (git-ignored); the environment wins over it.\n"


def env_file_path() -> Path | None:
    """The file settings read: ``$TALLY_ENV_FILE`` (empty: none) or ``.env`` in the checkout."""
    named = os.environ.get("TALLY_ENV_FILE")
    if named is None:
        return BASE_DIR / ".env"
    return Path(named) if named else None


def read_pairs(text: str) -> dict[str, str]:
    pairs = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            pairs[key.strip()] = value.strip().strip("'\"")
    return pairs


def rendered(existing: str, environ: dict[str, str]) -> str:
    """The new file text for ``existing`` (``""`` if none) and this run's environment."""
    old = read_pairs(existing)
    port = environ.get("PORT") or "8000"
    url = environ.get("PUBLIC_BASE_URL")
    if not url:
        kept = old.get("PUBLIC_BASE_URL", "")
        url = kept if kept and not GENERATED_URL.match(kept) else f"http://127.0.0.1:{port}"
    managed = {
        "DEBUG": old.get("DEBUG") or "1",
        # ``token_urlsafe(50)``: 67 characters of 64 symbols, what ``check --deploy`` accepts.
        "SECRET_KEY": old.get("SECRET_KEY") or secrets.token_urlsafe(50),
        "PORT": port,
        "PUBLIC_BASE_URL": url,
    }
    lines = existing.splitlines(keepends=True) if existing else [HEADER]
    out, seen = [], set()
    for line in lines:
        key = line.partition("=")[0].strip()
        if key in managed and "=" in line and not line.lstrip().startswith("#"):
            out.append(f"{key}={managed[key]}\n")
            seen.add(key)
        else:
            out.append(line if line.endswith("\n") else line + "\n")
    out += [f"{key}={value}\n" for key, value in managed.items() if key not in seen]
    return "".join(out)


def write(path: Path, environ: dict[str, str]) -> Path:
    existing = path.read_text() if path.exists() else ""
    text = rendered(existing, environ)
    if text != existing:
        path.write_text(text)
        path.chmod(0o600)  # it holds the SECRET_KEY
    return path


def main() -> int:
    path = env_file_path()
    if path is None:
        print("TALLY_ENV_FILE is empty: no .env written", file=sys.stderr)
        return 0
    write(path, dict(os.environ))
    port = read_pairs(path.read_text())["PORT"]
    print(f"settings for this checkout: {path} (PORT {port})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
