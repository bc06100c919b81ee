"""Load demonstration data and print the demo logins. Safe to run again."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.demo import (
    DEMO_PASSWORD,
    seed_demo_accounts,
    seed_demo_case_system,
    write_owner_only,
)


class Command(BaseCommand):
    help = (
        "Create demo agencies and accounts, and the demo officer's case system (idempotent); "
        "print how to log in and where the case system's files are."
    )

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument(
            "--login-url",
            default=None,
            help="Where the portal will answer, printed with the logins "
            "(default: PORTAL_AUDIENCE/login/).",
        )
        parser.add_argument(
            "--demo-dir",
            default=None,
            help="Where to keep the demo officer's key, identity and API token "
            "(default: PORTAL_DEMO_DIR, var/demo/).",
        )

    def handle(self, *args: object, **options: object) -> None:
        from requests_app.delivery.models import SealedResponse
        from requests_app.demo import (
            demo_order_pdf,
            seed_demo_answered_request,
            seed_demo_requests,
        )
        from requests_app.transparency.demo import seed_transparency_history

        directory = Path(str(options["demo_dir"] or settings.DEMO_FILES_DIR)).resolve()
        with transaction.atomic():
            logins = seed_demo_accounts()
            requests = seed_demo_requests()
            history = seed_transparency_history()
            case_system = seed_demo_case_system(directory=directory, order_pdf=demo_order_pdf())
            answered = seed_demo_answered_request(
                officer=case_system.officer,
                private_key=case_system.private_key,
                key=case_system.signing_key,
                recipient=case_system.recipient.recipient,
            )
        # Sealing runs after the commit (a task); the reference is written once it is there.
        sealed = SealedResponse.objects.filter(request=answered).exists()
        write_owner_only(directory / "reference", f"{answered.reference}\n".encode("ascii"))

        out = self.stdout.write
        login_url = options["login_url"] or f"{settings.PORTAL_AUDIENCE}/login/"
        out("")
        out(f"Demo logins: open {login_url}")
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
        out(
            f"Demo case system of {case_system.officer.user.email} (approved key, approved "
            "age recipient, API token), files readable by you only:"
        )
        for name, path in case_system.files.items():
            out(f"  {name:<13} {path}")
        out(
            f"  {'reference':<13} {directory / 'reference'}  ({answered.reference}, answered"
            + (
                ", response sealed)"
                if sealed
                else "; its response is not sealed yet: the sealing task's log says why)"
            )
        )
        out("  The commands of docs/submitting-from-a-case-system.md (step 2) and")
        out("  docs/receiving-a-response.md (step 2) run as printed in that folder:")
        out(f"    cd {directory}")
        out(
            f'    export PORTAL={settings.PORTAL_AUDIENCE} TOKEN="$(cat token)" '
            'REFERENCE="$(cat reference)"'
        )
        out("")
