from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser
from django.db import transaction
from rest_framework.authtoken.models import Token

from billing.services import account_get_or_create, account_personal_get_or_create
from config.commands import TallyCommand


class Command(TallyCommand):
    help = "Create or update an API user and print its token (the last line of output)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--staff",
            action="store_true",
            help="make the user staff (the flag alone grants no API power: add --group Finance)",
        )
        parser.add_argument(
            "--group", action="append", default=[], help="add the user to the existing group G (repeatable)"
        )
        parser.add_argument(
            "--namespace", action="append", default=[], help="make the user a member of NS (repeatable)"
        )

    def handle(
        self, *args: Any, username: str, staff: bool, namespace: list[str], group: list[str], **options: Any
    ) -> None:
        User = get_user_model()
        groups = list(Group.objects.filter(name__in=group))
        missing = sorted(set(group) - {g.name for g in groups})
        if missing:
            raise CommandError(f"no such group: {', '.join(missing)}")
        try:
            with transaction.atomic():
                user, created = User.objects.get_or_create(username=username)
                if staff and not user.is_staff:
                    user.is_staff = True
                    user.save(update_fields=["is_staff"])
                if created:
                    user.set_unusable_password()
                    user.save()
                personal = account_personal_get_or_create(user=user)
                if username not in namespace and not personal.members.filter(pk=user.pk).exists():
                    # A personal namespace is never an existing shared one (issue 13, docs/security.md).
                    raise CommandError(
                        f"namespace {username} already exists and {username} is not a member: choose another "
                        f"username, or pass --namespace {username} to make the user a member on purpose"
                    )
                for ns in namespace:
                    account_get_or_create(namespace=ns, member=user)
                user.groups.add(*groups)
                token, _ = Token.objects.get_or_create(user=user)
        except ValidationError as exc:
            raise CommandError(f"invalid namespace: {'; '.join(exc.messages)}") from exc
        self.say(f"{'created' if created else 'updated'} user {username}" + (" (staff)" if staff else ""))
        self.say(f"namespaces: {', '.join(sorted({username, *namespace}))}")
        if groups:
            self.say(f"groups: {', '.join(sorted(g.name for g in groups))}")
        self.stdout.write(token.key)  # data: the one line a script reads
