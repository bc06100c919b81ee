"""Load demonstration data and print the demo logins. Safe to run again."""

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.demo import DEMO_PASSWORD, seed_demo_accounts


class Command(BaseCommand):
    help = "Create demo agencies and accounts (idempotent) and print how to log in."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument(
            "--login-url",
            default="http://localhost:8000/login/",
            help="Where the portal will answer, printed with the logins.",
        )

    def handle(self, *args: object, **options: object) -> None:
        from requests_app.demo import seed_demo_requests
        from requests_app.transparency.demo import seed_transparency_history

        with transaction.atomic():
            logins = seed_demo_accounts()
            requests = seed_demo_requests()
            history = seed_transparency_history()
        out = self.stdout.write
        out("")
        out(f"Demo logins: open {options['login_url']}")
        out(f"  password for all: {DEMO_PASSWORD}")
        out("  second factor: the TOTP code of the secret below, e.g. `oathtool --totp -b SECRET`")
        out("  (or add the secret to any authenticator app)")
        out("")
        for login in logins:
            out(f"  {login.role:<22} {login.email:<36} TOTP secret {login.totp_secret}")
        out("")
        out(f"{requests} demo requests are in the review queue, signed through the real intake.")
        out(f"The transparency report (/transparency/) has {len(history.published)} periods.")
        out("")
