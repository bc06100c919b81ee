from django.core.management.base import BaseCommand, CommandError

from portal.audit import audit_chain_verify


class Command(BaseCommand):
    help = "Verify the audit hash chain: exit 0 if intact, 1 naming the first broken event."

    def handle(self, *args: object, **options: object) -> None:
        report = audit_chain_verify()
        if not report.ok:
            raise CommandError(report.describe(), returncode=1)
        self.stdout.write(report.describe())
