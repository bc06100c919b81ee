# ruff: noqa: S311  (random picks of what to read next, not secrets)
"""The traffic of the load and fault benchmarks: seed, client and checks, each its own process.

    python -m bench._traffic seed --spec PATH ...            inside Django: accounts, keys
    python -m bench._traffic client --spec PATH --plan PATH --out PATH     the clients
    python -m bench._traffic check --spec PATH --results PATH --out PATH   inside Django

The client never imports Django: it speaks HTTP to gunicorn over loopback like an
authority's case system (a signed submission per request, PROTOCOL §2 to §4), like a
reviewer's browser (a session logged in with a password and a TOTP code) and like a TLS
proxy in front of both (``X-Forwarded-Proto: https``, the portal's host name).
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import io
import json
import random
import secrets
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

HOST = "portal.load.invalid"
AUDIENCE = f"https://{HOST}"
PASSWORD = "load bench password, not a secret"  # noqa: S105
SESSION_COOKIE = "__Host-portal_session"
LOGGED_OUT = -3  # a page answered by a redirect to the login page: the session was lost
CSRF_COOKIE = "__Host-portal_csrf"
# Queue pages a reviewer looks at, in turn (the default page most often).
QUEUE_PAGES = [
    "/review/",
    "/review/?status=received",
    "/review/",
    "/review/?status=all",
    "/review/",
    "/review/?sort=status",
    "/review/?due=7d",
    "/review/?country=DE",
]


# --- Signed submissions (PROTOCOL §2), shared by the seed and the client ---------------------


def pdf_bytes(title: str) -> bytes:
    """A one-page PDF that differs per ``title`` (each order is its own document)."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": title})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def signed_envelope(*, private_key: Any, key_id: str, username: str, document: bytes) -> bytes:
    """A freshly signed submission (new nonce, ``signed_at`` now) declaring ``document``."""
    import rfc8785

    payload: dict[str, Any] = {
        "portal": AUDIENCE,
        "nonce": secrets.token_urlsafe(24),
        "signed_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "request": {
            "kind": "subscriber_data",
            "case_reference": f"PF-2026-{secrets.randbelow(10**6):06d}",
            "legal_basis": "Art. 5 Regulation (EU) 2023/1543",
            "issuing_authority": {
                "name": "Judge A. Example",
                "role": "judge",
                "contact": "+49 30 1234 0",
            },
            "offence": "fraud",
            "targets": [{"type": "username", "value": username}],
            "data_categories": ["ip_addresses", "phone_number"],
            "period": {"from": "2026-01-01", "to": "2026-03-31"},
            "attachments": [
                {
                    "filename": "order.pdf",
                    "media_type": "application/pdf",
                    "sha256": hashlib.sha256(document).hexdigest(),
                    "size": len(document),
                }
            ],
        },
    }
    signature = private_key.sign(rfc8785.dumps(payload))
    envelope = {
        "payload": payload,
        "signature": {
            "alg": "ed25519",
            "key_id": key_id,
            "value": base64.b64encode(signature).decode(),
        },
    }
    return json.dumps(envelope).encode()


def multipart(envelope: bytes, document: bytes) -> tuple[bytes, str]:
    """The body ``curl -F envelope=@... -F attachment=@...`` sends, and its content type."""
    boundary = "load" + secrets.token_hex(12)
    body = b""
    for disposition, media_type, content in (
        (b'name="envelope"; filename="envelope.json"', b"application/json", envelope),
        (b'name="attachment"; filename="order.pdf"', b"application/pdf", document),
    ):
        body += (
            b"--" + boundary.encode() + b"\r\n"
            b"Content-Disposition: form-data; " + disposition + b"\r\n"
            b"Content-Type: " + media_type + b"\r\n\r\n" + content + b"\r\n"
        )
    return body + b"--" + boundary.encode() + b"--\r\n", f"multipart/form-data; boundary={boundary}"


def load_private_key(pem: str) -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_private_key(pem.encode(), None)


def totp(key_hex: str, *, steps_ahead: int = 0) -> str:
    """The code an authenticator app shows (RFC 6238: SHA-1, 6 digits, 30 s)."""
    counter = int(time.time()) // 30 + steps_ahead
    mac = hmac.new(bytes.fromhex(key_hex), counter.to_bytes(8, "big"), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    return f"{(int.from_bytes(mac[offset : offset + 4], 'big') & 0x7FFFFFFF) % 10**6:06d}"


# --- Seed (inside Django) -------------------------------------------------------------------


def seed(args: argparse.Namespace) -> None:
    """Agencies, officers (key, token, age recipient), reviewers (TOTP), approved requests."""
    import django

    django.setup()
    from datetime import date, timedelta

    import pyrage
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import timezone
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import (
        Agency,
        AgencyDomain,
        AgeRecipient,
        KeyStatus,
        Officer,
        Role,
        SigningKey,
        User,
    )
    from accounts.services.tokens import api_token_create
    from portal.crypto import ed25519_key_id, ed25519_public_key_pem
    from requests_app.demo_source.models import PlatformAccount, PlatformIpEvent
    from requests_app.intake.pipeline import submission_accept_api
    from requests_app.lifecycle.models import LegalRequest
    from requests_app.review.models import Decision

    now = timezone.now()
    agencies = []
    for number, country in enumerate(("DE", "FR", "US", "BR", "IN")):
        agency = Agency.objects.create(
            name=f"Load Police {country}",
            country=country,
            kind=Agency.Kind.POLICE,
            callback_phone="+4930123456",
            status=Agency.Status.VERIFIED,
            verified_at=now,
        )
        AgencyDomain.objects.create(agency=agency, domain=f"police{number}.load.example")
        agencies.append(agency)

    def officer_make(number: int) -> dict[str, Any]:
        agency = agencies[number % len(agencies)]
        user = User.objects.create_user(
            f"officer{number}@police{number % len(agencies)}.load.example",
            None,
            full_name=f"Load Officer {number}",
            role=Role.OFFICER,
        )
        officer = Officer.objects.create(
            user=user,
            agency=agency,
            title="Inspector",
            badge_number=f"L-{number}",
            status=Officer.Status.ACTIVE,
            email_verified_at=now,
        )
        private_key = Ed25519PrivateKey.generate()
        key = SigningKey.objects.create(
            officer=officer,
            public_key_pem=ed25519_public_key_pem(private_key.public_key()),
            key_id=ed25519_key_id(private_key.public_key()),
            status=KeyStatus.ACTIVE,
        )
        identity = pyrage.x25519.Identity.generate()
        AgeRecipient.objects.create(
            officer=officer, recipient=str(identity.to_public()), status=KeyStatus.ACTIVE
        )
        return {
            "id": officer.pk,
            "token": api_token_create(officer=officer, actor=user, name="Load").secret,
            "key_id": key.key_id,
            "private_key_pem": private_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode(),
            "identity": str(identity),
        }

    officers = [officer_make(number) for number in range(args.officers)]
    # The officer whose approved requests the reviewers hand to delivery.
    discloser_officer = officer_make(args.officers)

    reviewers = []
    for number in range(args.reviewers + 2):
        user = User.objects.create_user(
            f"reviewer{number}@platform.load.example",
            PASSWORD,
            full_name=f"Load Reviewer {number}",
            role=Role.REVIEWER,
        )
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
        # The column holds the sealed seed (accounts/totp_seeds.py): hand the app its hex.
        seed_hex = device.bin_key.hex()
        reviewers.append({"id": user.pk, "email": user.email, "totp_key": seed_hex})
    proposer, confirmer = (User.objects.get(pk=r["id"]) for r in reviewers[-2:])
    reviewers = reviewers[:-2]

    start = datetime(2026, 1, 1, tzinfo=UTC)
    for username, events in (("suspect_small", 2), ("suspect_big", args.big_events)):
        account = PlatformAccount.objects.create(
            user_id=f"u-{username}",
            username=username,
            phone_number="+4915100000042",
            registered_at=now - timedelta(days=900),
        )
        # Spread over the approved period (the first 89 days of 2026).
        spacing = timedelta(seconds=max(1, 89 * 86400 // max(events, 1)))
        PlatformIpEvent.objects.bulk_create(
            (
                PlatformIpEvent(
                    account=account,
                    kind=PlatformIpEvent.Kind.LOGIN,
                    ip=f"198.51.{number // 250 % 250}.{number % 250 + 1}",
                    port=40000 + number % 20000,
                    at=start + spacing * number,
                    device=f"Device {number % 7}",
                )
                for number in range(events)
            ),
            batch_size=5000,
        )

    officer = Officer.objects.get(pk=discloser_officer["id"])
    private_key = load_private_key(discloser_officer["private_key_pem"])
    pools: dict[str, list[dict[str, Any]]] = {}
    for pool, count, username in (
        ("small", args.small, "suspect_small"),
        ("big", args.big, "suspect_big"),
    ):
        pools[pool] = []
        for number in range(count):
            document = pdf_bytes(f"seed {pool} {number}")
            accepted = submission_accept_api(
                raw_envelope=signed_envelope(
                    private_key=private_key,
                    key_id=discloser_officer["key_id"],
                    username=username,
                    document=document,
                ),
                uploads=[SimpleUploadedFile("order.pdf", document, "application/pdf")],
                officer=officer,
                ip=None,
            )
            request = accepted.request
            decision = Decision.objects.create(
                request=request,
                outcome=Decision.Outcome.APPROVE_FULL,
                state=Decision.State.CONFIRMED,
                proposed_by=proposer,
                confirmed_by=confirmer,
                confirmed_at=timezone.now(),
                approved_target_ids=list(request.targets.values_list("pk", flat=True)),
                approved_categories=list(request.data_categories),
                approved_period_from=date(2026, 1, 1),
                approved_period_to=date(2026, 3, 31),
                message_to_authority="Records attached.",
            )
            LegalRequest.objects.filter(pk=request.pk).update(status=LegalRequest.Status.APPROVED)
            pools[pool].append({"reference": request.reference, "decision_id": decision.pk})

    spec = {
        "officers": officers,
        "discloser_officer": discloser_officer,
        "reviewers": reviewers,
        "disclosures": pools,
    }
    path = Path(args.spec)
    path.write_text(json.dumps(spec))
    path.chmod(0o600)


# --- The client (no Django) ---------------------------------------------------------------


class Http:
    """A client behind the portal's TLS proxy: one cookie jar, a new connection per request."""

    def __init__(self, port: int, timeout: float) -> None:
        self.port = port
        self.timeout = timeout
        self.cookies: dict[str, str] = {}

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes, float, str]:
        """(status, headers, body, milliseconds, error); status 0 when nothing came back."""
        sent = {
            "Host": HOST,
            "X-Forwarded-Proto": "https",
            "Connection": "close",
            **(headers or {}),
        }
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body:
            sent["Content-Length"] = str(len(body))
        started = time.perf_counter()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            conn.request(method, path, body=body or None, headers=sent)
            response = conn.getresponse()
            answer = response.read()
            conn.close()
        except (OSError, http.client.HTTPException) as exc:
            return 0, {}, b"", 1000 * (time.perf_counter() - started), type(exc).__name__
        elapsed = 1000 * (time.perf_counter() - started)
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if value and "max-age=0" not in header.lower():
                self.cookies[name.strip()] = value
            else:
                self.cookies.pop(name.strip(), None)
        found = {k.lower(): v for k, v in response.getheaders()}
        return response.status, found, answer, elapsed, ""

    def form(
        self, path: str, fields: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes, float, str]:
        """POST a form as the browser does: the CSRF token, and the origin of the page."""
        body = urlencode({"csrfmiddlewaretoken": self.cookies.get(CSRF_COOKIE, ""), **fields})
        return self.request(
            "POST",
            path,
            body=body.encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": AUDIENCE,
                "Referer": AUDIENCE + path,
            },
        )


class Client:
    """Submitters, reviewers, status readers and a discloser, as threads, for a while."""

    def __init__(self, spec: dict[str, Any], plan: dict[str, Any]) -> None:
        self.spec = spec
        self.plan = plan
        self.lock = threading.Lock()
        self.records: list[dict[str, Any]] = []
        self.known: list[tuple[int, str]] = []  # (officer index, reference) answered 201
        self.bodies: dict[str, tuple[int, bytes, str]] = {}  # nonce -> officer, body, type
        self.deadline = 0.0
        self.pair_numbers = iter(range(1, 10**9))
        self.discloser_http = Http(plan["port"], plan["timeout"])

    def record(self, **fields: Any) -> None:
        with self.lock:
            self.records.append(fields)

    # --- officers ------------------------------------------------------------------------

    def submit(self, kind: str, officer: int, nonce: str, pair: int = 0) -> int:
        _, body, content_type = self.bodies[nonce]
        token = self.spec["officers"][officer]["token"]
        http_ = Http(self.plan["port"], self.plan["timeout"])
        started = time.time()
        status, _, answer, ms, error = http_.request(
            "POST",
            "/api/v1/submissions",
            body=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
        )
        reference = ""
        if status == 201:
            reference = json.loads(answer)["reference"]
            with self.lock:
                self.known.append((officer, reference))
        elif status:
            error = _problem_code(answer) or error
        self.record(
            k=kind, t=started, ms=ms, s=status, e=error, n=nonce, o=officer, r=reference, p=pair
        )
        return status

    def submitter(self, index: int) -> None:
        # Each run of the faults benchmark has officers of its own (plan "officer_offset").
        officer_index = (self.plan.get("officer_offset", 0) + index) % len(self.spec["officers"])
        officer = self.spec["officers"][officer_index]
        key = load_private_key(officer["private_key_pem"])
        number = 0
        while time.time() < self.deadline:
            number += 1
            document = pdf_bytes(f"order {index}-{number}-{secrets.token_hex(4)}")
            envelope = signed_envelope(
                private_key=key,
                key_id=officer["key_id"],
                username="suspect_small",
                document=document,
            )
            nonce = json.loads(envelope)["payload"]["nonce"]
            body, content_type = multipart(envelope, document)
            with self.lock:
                self.bodies[nonce] = (officer_index, body, content_type)
            every = self.plan["double_every"]
            if every and (index * 7 + number) % every == 0:
                # The same bytes twice at once (a client that retried too soon): both must
                # get the same 201 answer, and the portal must store one request.
                pair = next(self.pair_numbers)
                twin = threading.Thread(
                    target=self.submit, args=("submit", officer_index, nonce, pair)
                )
                twin.start()
                self.submit("submit", officer_index, nonce, pair)
                twin.join()
            else:
                self.submit("submit", officer_index, nonce)

    def reader(self, index: int) -> None:
        number = 0
        while time.time() < self.deadline:
            with self.lock:
                pick = random.choice(self.known) if self.known else None
            if pick is None:
                time.sleep(0.05)
                continue
            number += 1
            officer, reference = pick
            token = self.spec["officers"][officer]["token"]
            http_ = Http(self.plan["port"], self.plan["timeout"])
            path = "/api/v1/submissions" if number % 5 == 0 else f"/api/v1/submissions/{reference}"
            started = time.time()
            status, _, answer, ms, error = http_.request(
                "GET", path, headers={"Authorization": f"Bearer {token}"}
            )
            kind = "status-list" if path.endswith("submissions") else "status"
            if status == 200 and kind == "status" and _field(answer, "reference") != reference:
                status, error = -1, "not this request's status"
            self.record(k=kind, t=started, ms=ms, s=status, e=error)

    # --- reviewers -----------------------------------------------------------------------

    def login(self, http_: Http, reviewer: dict[str, Any]) -> bool:
        """Password, then a TOTP code, through the real pages (as tests/factories.log_in)."""
        started = time.time()
        steps = 0
        status, *_ = http_.request("GET", "/login/")
        ms_total = 0.0
        if status == 200:
            status, headers, _, ms, _ = http_.form(
                "/login/", {"username": reviewer["email"], "password": PASSWORD}
            )
            ms_total += ms
            steps = 1
            if status == 302 and "/login/verify/" in headers.get("location", ""):
                # A code is accepted once; a second login in the same 30 s uses the next one.
                for ahead in (0, 1):
                    code = totp(reviewer["totp_key"], steps_ahead=ahead)
                    status, headers, _, ms, _ = http_.form(
                        "/login/verify/", {"method": "totp", "code": code}
                    )
                    ms_total += ms
                    if status == 302:
                        steps = 2
                        break
        ok = steps == 2 and SESSION_COOKIE in http_.cookies
        if not ok:
            http_.cookies.pop(SESSION_COOKIE, None)  # a password-only session is no use
        self.record(
            k="login", t=started, ms=ms_total, s=302 if ok else status, e="" if ok else "failed"
        )
        return ok

    def reviewer_account(self, index: int) -> dict[str, Any]:
        """The reviewer account of client ``index``: each client (and, in the faults
        benchmark, each run) its own, since a TOTP code is accepted only once."""
        reviewers = self.spec["reviewers"]
        return reviewers[(self.plan.get("reviewer_offset", 0) + index) % len(reviewers)]

    def reviewer(self, index: int) -> None:
        reviewer = self.reviewer_account(index)
        http_ = Http(self.plan["port"], self.plan["timeout"])
        logged_in = False
        number = index
        while time.time() < self.deadline:
            if not logged_in:
                logged_in = self.login(http_, reviewer)
                if not logged_in:
                    time.sleep(1)
                continue
            number += 1
            with self.lock:
                recent = self.known[-50:]
            if number % 4 == 0 and recent:
                reference = random.choice(recent)[1]
                kind, path = "request-page", f"/review/{reference}/"
            else:
                kind, path = "queue", QUEUE_PAGES[number % len(QUEUE_PAGES)]
            started = time.time()
            status, headers, answer, ms, error = http_.request("GET", path)
            if status == 302 and "/login/" in headers.get("location", ""):
                status, error, logged_in = LOGGED_OUT, "sent to log in again", False
            elif status == 200 and kind == "request-page" and reference.encode() not in answer:
                status, error = -1, "the page does not name the request"
            self.record(k=kind, t=started, ms=ms, s=status, e=error)

    def discloser(self, index: int) -> None:
        """Hand approved requests to delivery at a steady pace, as a reviewer does."""
        reviewer = self.reviewer_account(index)
        http_ = self.discloser_http
        items = list(self.plan["disclose"])
        next_at = time.time()
        while items and time.time() < self.deadline:
            if SESSION_COOKIE not in http_.cookies and not self.login(http_, reviewer):
                time.sleep(1)
                continue
            time.sleep(max(0.0, next_at - time.time()))
            next_at += self.plan["disclose_every"]
            item = items.pop(0)
            if self.disclose(http_, item, "disclose") == LOGGED_OUT:
                items.insert(0, item)  # the session ended: log in again, then hand it over

    def disclose(self, http_: Http, item: dict[str, Any], kind: str) -> int:
        path = f"/review/{item['reference']}/decisions/{item['decision_id']}/disclose/"
        started = time.time()
        status, headers, _, ms, error = http_.form(path, {"note": ""})
        location = headers.get("location", "")
        if status == 302 and "/login/" in location:
            http_.cookies.pop(SESSION_COOKIE, None)
            status, error = LOGGED_OUT, "sent to log in again"
        elif status == 302 and item["reference"] not in location:
            error = f"redirected to {location}"
        self.record(
            k=kind, t=started, ms=ms, s=status, e=error, r=item["reference"], d=item["decision_id"]
        )
        return status

    # --- the run -------------------------------------------------------------------------

    def run(self, started_marker: Path | None) -> dict[str, Any]:
        plan = self.plan
        # Reviewers log in once the clock runs (their logins are counted apart).
        roles = (
            [("submitter", i) for i in range(plan["submitters"])]
            + [("reviewer", i) for i in range(plan["reviewers"])]
            + [("reader", i) for i in range(plan["readers"])]
            + [("discloser", plan["reviewers"] + i) for i in range(plan["disclosers"])]
        )
        started = time.time()
        self.deadline = started + plan["seconds"]
        if started_marker is not None:
            started_marker.write_text(str(started))
        threads = [
            threading.Thread(target=self.guarded, args=(role, i), name=f"{role}-{i}")
            for role, i in roles
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        ended = time.time()
        retried_until = ended
        if plan.get("retry_seconds"):
            retried_until = self.retry(ended + plan["retry_seconds"])
        return {
            "started": started,
            "ended": ended,
            "retried_until": retried_until,
            "records": self.records,
        }

    def guarded(self, role: str, index: int) -> None:
        """Run one client; a crash of the client itself is recorded, never silent."""
        try:
            getattr(self, role)(index)
        except Exception as exc:
            self.record(k="client-crash", t=time.time(), ms=0.0, s=-2, e=f"{role} {index}: {exc!r}")

    def retry(self, until: float) -> float:
        """Resend what got no answer or a 5xx, byte for byte (README: retry by resending)."""

        def settled(answers: list[int]) -> bool:
            return any(s == 201 or (400 <= s < 500 and s != 429) for s in answers)

        http_ = self.discloser_http  # the same reviewer's browser, still logged in
        discloser = self.reviewer_account(self.plan["reviewers"])
        while time.time() < until:
            answers: dict[str, list[int]] = {}
            disclosed: dict[int, list[int]] = {}
            items: dict[int, dict[str, Any]] = {}
            for r in self.records:
                if r["k"] in ("submit", "retry"):
                    answers.setdefault(r["n"], []).append(r["s"])
                elif r["k"] in ("disclose", "disclose-retry"):
                    disclosed.setdefault(r["d"], []).append(r["s"])
                    items[r["d"]] = {"reference": r["r"], "decision_id": r["d"]}
            open_submissions = [n for n, s in answers.items() if not settled(s)]
            # 302: handed over; 409: "already handed to delivery" (an earlier try committed).
            open_disclosures = [d for d, s in disclosed.items() if not ({302, 409} & set(s))]
            if not open_submissions and not open_disclosures:
                break
            for nonce in open_submissions:
                self.submit("retry", self.bodies[nonce][0], nonce)
            for decision_id in open_disclosures:
                if SESSION_COOKIE not in http_.cookies and not self.login(http_, discloser):
                    break
                self.disclose(http_, items[decision_id], "disclose-retry")
            time.sleep(2)
        return time.time()


def _field(answer: bytes, name: str) -> str:
    try:
        return str(json.loads(answer).get(name, ""))
    except (ValueError, AttributeError):
        return ""


def _problem_code(answer: bytes) -> str:
    return _field(answer, "code")


def client(args: argparse.Namespace) -> None:
    spec = json.loads(Path(args.spec).read_text())
    plan = json.loads(Path(args.plan).read_text())
    result = Client(spec, plan).run(Path(args.started) if args.started else None)
    Path(args.out).write_text(json.dumps(result))


# --- Checks (inside Django) -------------------------------------------------------------------


def check(args: argparse.Namespace) -> None:
    """Compare what the clients were told with what the database and the storage hold."""
    import django

    django.setup()
    from django.core.files.storage import default_storage

    from portal.models import AuditEvent
    from requests_app.delivery.models import Disclosure, SealedResponse
    from requests_app.lifecycle.models import Attachment, LegalRequest

    spec = json.loads(Path(args.spec).read_text())
    records = [r for path in args.results for r in json.loads(Path(path).read_text())["records"]]
    officer_ids = [o["id"] for o in spec["officers"]]
    if args.officers:  # the officers of one run (the faults benchmark gives each run its own)
        first, count = (int(part) for part in args.officers.split(":"))
        officer_ids = officer_ids[first : first + count]

    answers: dict[str, list[tuple[int, str]]] = {}
    pairs: dict[int, set[str]] = {}
    for r in records:
        if r["k"] in ("submit", "retry"):
            answers.setdefault(r["n"], []).append((r["s"], r["r"]))
            if r.get("p") and r["s"] == 201:
                pairs.setdefault(r["p"], set()).add(r["r"])
    rows = dict(
        LegalRequest.objects.filter(officer_id__in=officer_ids).values_list("nonce", "reference")
    )
    acknowledged = {n: {ref for s, ref in a if s == 201} for n, a in answers.items()}
    lost = sorted(n for n, refs in acknowledged.items() if refs and n not in rows)
    two_answers = sorted(n for n, refs in acknowledged.items() if len(refs) > 1)
    wrong = sorted(n for n, refs in acknowledged.items() if refs and rows.get(n) not in refs)
    orphans = sorted(rows[n] for n in rows if n in answers and not acknowledged[n])
    unknown = sorted(rows[n] for n in rows if n not in answers)
    split_pairs = sorted(p for p, refs in pairs.items() if len(refs) > 1)

    total_requests = LegalRequest.objects.count()
    received_events = AuditEvent.objects.filter(action="legal_request.received").count()

    from portal import crypto

    # Documents are stored as age ciphertext to the portal's storage key where the portal
    # does so (crypto.storage_open), as they came otherwise.
    storage_open = getattr(crypto, "storage_open", None)

    def document_read(name: str) -> bytes:
        with default_storage.open(name) as handle:
            if storage_open is None:
                return bytes(handle.read())
            plain = io.BytesIO()
            storage_open(handle, plain)
            return plain.getvalue()

    bad_attachments = []
    referenced = set()
    for attachment in Attachment.objects.select_related("request").iterator():
        name = attachment.file.name
        referenced.add(name)
        if not name:
            bad_attachments.append(f"{attachment.request.reference}: the row names no file")
            continue
        try:
            data = document_read(name)
        except Exception as exc:
            bad_attachments.append(f"{attachment.request.reference}: {exc!r}"[:200])
            continue
        if len(data) != attachment.size or hashlib.sha256(data).hexdigest() != attachment.sha256:
            bad_attachments.append(
                f"{attachment.request.reference}: {attachment.file.name} holds {len(data)} "
                f"bytes, the row says {attachment.size} (SHA-256 "
                f"{'differs' if len(data) else 'of an empty file'})"
            )

    told_disclosed = {r["d"] for r in records if r["k"].startswith("disclose") and r["s"] == 302}
    disclosures = {d.decision_id: d for d in Disclosure.objects.all()}
    lost_disclosures = sorted(d for d in told_disclosed if d not in disclosures)
    states: dict[str, int] = {}
    for disclosure in disclosures.values():
        states[disclosure.state] = states.get(disclosure.state, 0) + 1
    sealed_rows = list(SealedResponse.objects.select_related("request"))
    per_disclosure: dict[int, int] = {}
    bad_sealed = []
    sealed_names = set()
    for sealed in sealed_rows:
        per_disclosure[sealed.disclosure_id] = per_disclosure.get(sealed.disclosure_id, 0) + 1
        sealed_names.add(sealed.file.name)
        if not sealed.file.name:
            bad_sealed.append(f"{sealed.request.reference}: the row names no file")
            continue
        try:
            with default_storage.open(sealed.file.name) as handle:
                data = handle.read()
        except OSError as exc:
            bad_sealed.append(f"{sealed.request.reference}: {type(exc).__name__}")
            continue
        if len(data) != sealed.size or hashlib.sha256(data).hexdigest() != sealed.sha256:
            bad_sealed.append(f"{sealed.request.reference}: {len(data)} bytes, row {sealed.size}")

    def files_under(folder: str) -> list[str]:
        try:
            return sorted(f"{folder}/{name}" for name in default_storage.listdir(folder)[1])
        except FileNotFoundError:
            return []

    stray_sealed = [name for name in files_under("sealed") if name not in sealed_names]
    stray_attachments = [name for name in files_under("attachments") if name not in referenced]
    stray_sizes = {name: default_storage.size(name) for name in stray_sealed + stray_attachments}

    report = {
        "submissions": len(answers),
        "acknowledged": sum(1 for refs in acknowledged.values() if refs),
        "rows": len(rows),
        "lost": lost,
        "two_answers": two_answers,
        "wrong_reference": wrong,
        "orphans": orphans,
        "unknown_rows": unknown,
        "pairs": len(pairs),
        "split_pairs": split_pairs,
        "requests_total": total_requests,
        "received_events": received_events,
        "bad_attachments": bad_attachments,
        "disclosures_told": len(told_disclosed),
        "disclosures": len(disclosures),
        "lost_disclosures": lost_disclosures,
        "disclosure_states": states,
        "sealed": len(sealed_rows),
        "sealed_twice": sorted(d for d, n in per_disclosure.items() if n > 1),
        "bad_sealed": bad_sealed,
        "stray_files": {name: stray_sizes[name] for name in stray_sealed + stray_attachments},
        "sealed_rows": [
            {
                "id": s.pk,
                "reference": s.request.reference,
                "officer_id": s.request.officer_id,
                "size": s.size,
                "sha256": s.sha256,
            }
            for s in sealed_rows
        ],
    }
    Path(args.out).write_text(json.dumps(report))


def main() -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    seed_args = sub.add_parser("seed")
    seed_args.add_argument("--spec", required=True)
    seed_args.add_argument("--officers", type=int, required=True)
    seed_args.add_argument("--reviewers", type=int, required=True)
    seed_args.add_argument("--small", type=int, required=True)
    seed_args.add_argument("--big", type=int, required=True)
    seed_args.add_argument("--big-events", type=int, required=True)
    client_args = sub.add_parser("client")
    client_args.add_argument("--spec", required=True)
    client_args.add_argument("--plan", required=True)
    client_args.add_argument("--out", required=True)
    client_args.add_argument("--started", default="")
    check_args = sub.add_parser("check")
    check_args.add_argument("--spec", required=True)
    check_args.add_argument("--results", nargs="+", required=True)
    check_args.add_argument("--out", required=True)
    check_args.add_argument("--officers", default="", help="FIRST:COUNT of the spec's officers")
    args = parser.parse_args()
    {"seed": seed, "client": client, "check": check}[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
