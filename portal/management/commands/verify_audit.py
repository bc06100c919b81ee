import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal import crypto
from portal.audit import audit_verify


class Command(BaseCommand):
    help = (
        "Verify the audit log: every event against its leaf, the tree, the signed heads; "
        "with --against HEAD.json also against a tree head saved outside the database. "
        "Exit 0 if intact, 1 naming what is wrong."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--against",
            metavar="HEAD.json",
            help="a signed tree head saved earlier (GET /api/v1/audit/tree-heads/latest)",
        )
        parser.add_argument(
            "--public-key",
            metavar="KEY.pem",
            help="verify signatures with this Ed25519 public key (PEM) instead of the key "
            "file the portal is configured with",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        against = None
        if options["against"]:
            try:
                against = json.loads(Path(options["against"]).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise CommandError(
                    f"cannot read {options['against']}: {exc}", returncode=2
                ) from exc
        public_key = None
        if options["public_key"]:
            try:
                pem = Path(options["public_key"]).read_text(encoding="ascii")
                public_key = crypto.ed25519_public_key_from_pem(pem)
            except (OSError, ValueError, crypto.CryptoError) as exc:
                raise CommandError(
                    f"cannot read {options['public_key']}: {exc}", returncode=2
                ) from exc
        report = audit_verify(against=against, public_key=public_key)
        if not report.ok:
            raise CommandError(report.describe(), returncode=1)
        self.stdout.write(report.describe())
