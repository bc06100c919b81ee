"""What a translated page costs: the review queue and a request page in Portuguese vs English.

Baseline: the same two pages rendered in English (the source language: no catalog look-up
finds anything to replace), by the same reviewer, in the same run, in interleaved rounds.

Run by hand (not in CI), from the repository root, with the project's virtualenv and a
PostgreSQL on loopback:

    .venv/bin/python bench/i18n.py                   # 7 rounds; about two minutes
    .venv/bin/python bench/i18n.py --rounds 2 --requests 5 --warmup 2 --no-write   # smoke

What it does:

1. drops and creates the benchmark database (its name must contain "bench"), migrates it
   and loads the demo (``seed_demo``: agencies in five countries, requests in review, the
   transparency history), so the queue holds a realistic page of work;
2. logs the demo reviewer in through the real login pages (password, then TOTP);
3. in each round, renders ``GET /review/`` and ``GET /review/<reference>/`` with Django's
   test client, in-process (middleware to rendered template), ``--requests`` times each
   in English and in Brazilian Portuguese (chosen by the language cookie, as the switcher
   sets it), in an order that alternates from round to round; warm-up requests are not
   counted;
4. prints, per page, the median time in each language and the ratio Portuguese/English:
   the median over rounds and the spread (lowest and highest round), the load average
   before and after, and whether the Portuguese catalog was there (without it Django
   falls back to the English strings, and the ratio measures nothing);
5. writes its section of bench/RESULTS.md (between its markers; the rest is left alone).

The aim (issue 13): Portuguese costs at most 1.1x English.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [
    entry for entry in sys.path if Path(entry or ".").resolve() not in (ROOT, ROOT / "bench")
]

import argparse  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from io import StringIO  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import urlsplit, urlunsplit  # noqa: E402

from bench._results import section_write  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/portal_i18n_bench"
LANGUAGES = ("en", "pt-br")
BASELINE = "en"
AIM = 1.1
REVIEWER = "reviewer@platform.example"


def database_recreate(database_url: str) -> None:
    """Drop and create the benchmark database (refusing any name without "bench")."""
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if "bench" not in name or not name.replace("_", "").isalnum():
        sys.exit(f"refusing to drop database {name!r}: its name must contain 'bench'")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def django_start(database_url: str, scratch: Path) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.pop("PORTAL_MODE", None)
    os.environ["SEALED_STORAGE_DIR"] = str(scratch / "sealed")
    import django

    django.setup()
    from django.conf import settings

    # Not setup_test_environment(): its template instrumentation would be timed too.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.DEBUG = False
    settings.DEMO_FILES_DIR = scratch / "demo"


def seed() -> str:
    """Migrate, load the demo; return the reference of a request in the queue."""
    from django.core.management import call_command

    from accounts.models import User
    from requests_app.lifecycle.models import LegalRequest

    call_command("migrate", verbosity=0, interactive=False)
    call_command("seed_demo", stdout=StringIO())
    User.objects.filter(email=REVIEWER).update(language="", time_zone="")
    request = LegalRequest.objects.filter(case_reference__startswith="DEMO-").order_by("pk").first()
    if request is None:
        raise SystemExit("seed_demo made no demo request")
    return request.reference


def reviewer_client() -> Any:
    from django.test import Client
    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.demo import DEMO_PASSWORD

    device = TOTPDevice.objects.get(user__email=REVIEWER, confirmed=True)
    client = Client()
    response = client.post("/login/", {"username": REVIEWER, "password": DEMO_PASSWORD})
    if response.status_code != 302:
        sys.exit(f"the reviewer could not log in: {response.status_code}")
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    response = client.post("/login/verify/", {"method": "totp", "code": f"{totp.token():06d}"})
    if response.status_code != 302:
        sys.exit(f"the reviewer's second factor was refused: {response.status_code}")
    return client


def catalog_entries(language: str) -> int:
    """How many messages the portal's own compiled catalog of a language holds (0: none)."""
    import gettext

    from django.conf import settings
    from django.utils.translation import to_locale

    found = 0
    for directory in settings.LOCALE_PATHS:
        mo = Path(directory) / to_locale(language) / "LC_MESSAGES" / "django.mo"
        if mo.exists():
            with mo.open("rb") as compiled:
                # Every form of each message; typeshed does not declare the catalog (private).
                catalog = gettext.GNUTranslations(compiled)._catalog  # type: ignore[attr-defined]  # noqa: SLF001
                found += len(catalog) - 1
    return found


def render(client: Any, path: str, language: str) -> float:
    from django.conf import settings

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    started = time.perf_counter()
    response = client.get(path)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        sys.exit(f"{path} in {language} answered {response.status_code}")
    if f'lang="{language}"' not in response.content.decode()[:400]:
        sys.exit(f"{path} was not rendered in {language}")
    return elapsed * 1000


def measure(client: Any, pages: dict[str, str], rounds: int, requests: int, warmup: int):
    """Per page and language, the median of each round (ms), in alternating order."""
    medians: dict[tuple[str, str], list[float]] = {}
    for (_name, path), language in [(p, lang) for p in pages.items() for lang in LANGUAGES]:
        for _ in range(warmup):
            render(client, path, language)
    for number in range(rounds):
        order = LANGUAGES if number % 2 == 0 else tuple(reversed(LANGUAGES))
        for name, path in pages.items():
            for language in order:
                times = [render(client, path, language) for _ in range(requests)]
                medians.setdefault((name, language), []).append(statistics.median(times))
    return medians


def report(medians, pages, meta) -> tuple[str, list[str]]:
    lines = [
        f"Baseline: the same pages in English ({BASELINE}), same run, interleaved rounds.",
        f"Rounds: {meta['rounds']} x {meta['requests']} requests per page and language "
        f"(warm-up {meta['warmup']}). Load average (1 min) before {meta['load_before']:.2f}, "
        f"after {meta['load_after']:.2f}. pt-br catalog: {meta['catalog']} messages.",
    ]
    if not meta["catalog"]:
        lines.append(
            "WARNING: no pt-br catalog: Portuguese pages show the English strings, the ratio "
            "measures nothing yet."
        )
    table = [
        "| page | English, ms (median) | Portuguese, ms (median) | pt/en | spread of rounds |",
        "|---|---|---|---|---|",
    ]
    verdicts = []
    for name in pages:
        english = medians[(name, "en")]
        portuguese = medians[(name, "pt-br")]
        ratios = [pt / en for pt, en in zip(portuguese, english, strict=True)]
        ratio = statistics.median(ratios)
        verdicts.append(ratio <= AIM)
        table.append(
            f"| {name} | {statistics.median(english):.1f} | {statistics.median(portuguese):.1f}"
            f" | {ratio:.3f} | {min(ratios):.3f} to {max(ratios):.3f} |"
        )
    aim = "met" if all(verdicts) else "not met"
    lines.append(f"Aim: Portuguese at most {AIM}x English: {aim}.")
    return aim, lines + [""] + table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--no-write", action="store_true", help="print, do not write RESULTS.md")
    args = parser.parse_args()

    print(f"Baseline: the same pages rendered in English ({BASELINE}) in the same run.")
    print("Measured: the review queue and a request page in Brazilian Portuguese (pt-br).")
    scratch = Path(tempfile.mkdtemp(prefix="i18n-bench-"))
    database_recreate(args.database_url)
    django_start(args.database_url, scratch)
    print("loading the demo ...", flush=True)
    reference = seed()
    client = reviewer_client()
    pages = {"review queue": "/review/", "request page": f"/review/{reference}/"}
    load_before = os.getloadavg()[0]
    medians = measure(client, pages, args.rounds, args.requests, args.warmup)
    load_after = os.getloadavg()[0]
    meta = {
        "rounds": args.rounds,
        "requests": args.requests,
        "warmup": args.warmup,
        "load_before": load_before,
        "load_after": load_after,
        "catalog": catalog_entries("pt-br"),
    }
    aim, lines = report(medians, pages, meta)
    print("\n".join(lines))
    if args.no_write:
        return 0
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    smoke = args.rounds < 5 or args.requests < 20
    section_write(
        "i18n.py",
        "\n".join(
            [
                "## Translated pages: Portuguese vs English (`bench/i18n.py`)",
                "",
                f"Run {when} on {platform.node()} ({os.cpu_count()} CPUs, Python "
                f"{platform.python_version()})."
                + (" A smoke run (few rounds): not figures to publish." if smoke else ""),
                "",
                *lines,
            ]
        ),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
