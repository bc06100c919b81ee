"""Append audit events from a process of its own, for the concurrent-append test.

Usage, from the repository root: python tests/portal/audit_writer.py COUNT LABEL

Connects, prints "ready", then waits for a line on stdin before appending, so that the
test can start every writer at once. Each event is appended in its own transaction,
as a service would, with data {"writer": LABEL, "n": 1..COUNT}.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> None:
    count, label = int(sys.argv[1]), sys.argv[2]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

    import django

    django.setup()

    from django.db import connection, transaction

    from portal.audit import audit_append

    connection.ensure_connection()
    print("ready", flush=True)
    sys.stdin.readline()

    for n in range(1, count + 1):
        with transaction.atomic():
            audit_append(
                action="test.concurrent_append",
                target_type="writer",
                target_id=label,
                data={"writer": label, "n": n},
            )


if __name__ == "__main__":
    main()
