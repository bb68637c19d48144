"""``load_demo`` creates logins with published passwords (``admin`` is a superuser) and a funded
wallet: a deployment (DEBUG off) refuses it unless ``DEMO_DATA_ENABLED=1``, and ``check --deploy``
fails while a demo login still signs in with its published password (``tally.E001``). Run as a
deployment runs it: fresh ``manage.py`` processes with a production environment on a migrated
database of their own."""

from __future__ import annotations

USERS = "from django.contrib.auth.models import User; print(User.objects.count(), 'users')"
NEW_PASSWORDS = (
    "from django.contrib.auth.models import User\n"
    "for u in User.objects.filter(username__in=['admin', 'finance']):\n"
    "    u.set_password('a-real-passphrase-' + u.username + '-8421'); u.save()\n"
)


def test_a_deployment_refuses_the_demo_and_check_deploy_finds_its_logins(manage) -> None:
    assert manage("migrate", "--noinput").returncode == 0

    refused = manage("load_demo")
    assert refused.returncode != 0
    assert "published passwords" in refused.stderr and "DEMO_DATA_ENABLED=1" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert manage("shell", "-c", USERS).stdout.strip().endswith("0 users")  # refused before writing anything

    clean = manage("check", "--deploy")
    assert clean.returncode == 0 and "no issues (0 silenced)" in clean.stdout, clean.stdout + clean.stderr

    seeded = manage("load_demo", env={"DEMO_DATA_ENABLED": "1"})
    assert seeded.returncode == 0, seeded.stderr
    flagged = manage("check", "--deploy")
    assert flagged.returncode != 0
    assert "tally.E001" in flagged.stderr and "admin, finance" in flagged.stderr, flagged.stderr

    assert manage("shell", "-c", NEW_PASSWORDS).returncode == 0
    again = manage("check", "--deploy")
    assert again.returncode == 0 and "no issues (0 silenced)" in again.stdout, again.stdout + again.stderr
