from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.sequencer import audit_sequence


class Command(BaseCommand):
    help = (
        "Run the audit sequencer now: put committed events into the Merkle tree, sign a "
        "tree head, and publish it (RFC 3161 time-stamp, witnesses) when due."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--no-publish", action="store_true", help="sequence and sign only; publish nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        result = audit_sequence(publish=not options["no_publish"])
        line = f"sequenced {result.appended} events; the tree holds {result.tree_size}"
        if result.head is not None:
            line += f"; signed tree head {result.head.tree_size} {result.head.root_hash}"
        if result.published is not None:
            line += f"; published head {result.published.tree_size}"
        self.stdout.write(line)
        if result.publish_error:
            raise CommandError(
                f"the newest tree head was not published: {result.publish_error}", returncode=1
            )
