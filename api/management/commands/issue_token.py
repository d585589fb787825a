from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from rest_framework.authtoken.models import Token

from facilities.models import Facility, Role
from facilities.roles import roles_assign


class Command(BaseCommand):
    help = (
        "Issue an API token: creates the user if needed, gives it the roles (and the facility a facility "
        "officer is bound to), replaces any earlier token, and prints the key alone on the last line."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", action="append", required=True, choices=Role.values, dest="roles")
        parser.add_argument("--facility", help="facility code; required with --role facility")

    def handle(self, username, roles, facility=None, **options):
        home = None
        if facility:
            home = Facility.objects.filter(code=facility).first()
            if home is None:
                raise CommandError(f"--facility: no facility has the code {facility!r}")
        if Role.FACILITY in roles and home is None:
            raise CommandError("--role facility needs --facility CODE")
        with transaction.atomic():
            user, created = get_user_model().objects.get_or_create(username=username, defaults={"is_active": True})
            if created:
                user.set_unusable_password()
                user.save()
            roles_assign(user=user, roles=sorted(set(roles)), facility=home)
            Token.objects.filter(user=user).delete()
            token = Token.objects.create(user=user)
        where = f" at {home.code}" if home else ""
        self.stdout.write(f"{'Created' if created else 'Updated'} {username}: {', '.join(sorted(set(roles)))}{where}")
        self.stdout.write(token.key)
