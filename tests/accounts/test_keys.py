"""Officers' keys: enrolling Ed25519 signing keys and age recipients, listing, revoking.

Behaviour through the pages; each attack test checks the refusal and that nothing was
stored or changed (no key, no status change, no audit event).
"""

import hashlib
import html
import re
import subprocess
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders

from accounts.models import AgeRecipient, KeyStatus, Officer, Role, SigningKey
from accounts.services.keys import (
    KeyRefused,
    age_recipient_enrol,
    signing_key_enrol,
    signing_key_revoke,
)
from portal.models import AuditEvent
from tests.audit_marks import actions_since, audit_mark
from tests.factories import log_in, make_officer, make_user
from tests.portal.test_crypto import RFC8032_KEY_ID, RFC8032_PUBLIC_PEM

pytestmark = pytest.mark.django_db

needs_openssl = pytest.mark.needs_commands("openssl")
needs_age = pytest.mark.needs_commands("age-keygen")

EXAMPLE_RECIPIENT = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"


def openssl(*args: str, stdin: bytes | None = None) -> bytes:
    return subprocess.run(["openssl", *args], input=stdin, capture_output=True, check=True).stdout


def new_ed25519_key(tmp_path: Path, name: str = "key") -> tuple[str, str]:
    """Make a key with openssl as an officer would; return (private PEM, public PEM)."""
    private = tmp_path / f"{name}.pem"
    openssl("genpkey", "-algorithm", "ed25519", "-out", str(private))
    return private.read_text(), openssl("pkey", "-in", str(private), "-pubout").decode()


def new_age_identity(tmp_path: Path) -> tuple[str, str]:
    """Make an identity with age-keygen; return (identity line, recipient)."""
    identity_file = tmp_path / "identity.txt"
    subprocess.run(["age-keygen", "-o", str(identity_file)], check=True, capture_output=True)
    recipient = subprocess.run(
        ["age-keygen", "-y", str(identity_file)], check=True, capture_output=True, text=True
    ).stdout.strip()
    identity = next(
        line for line in identity_file.read_text().splitlines() if line.startswith("AGE-SECRET")
    )
    return identity, recipient


# --- Signing keys: enrolment ---------------------------------------------------------------


def test_a_fixed_key_is_enrolled_pending_with_its_known_key_id(officer_client, officer) -> None:
    before = audit_mark()

    response = officer_client.post(
        "/account/keys/signing/new/", {"public_key": RFC8032_PUBLIC_PEM, "label": "case system"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/account/keys/"
    key = SigningKey.objects.get(officer=officer)
    assert key.key_id == RFC8032_KEY_ID
    assert key.status == KeyStatus.PENDING
    assert key.label == "case system"
    assert key.public_key_pem == RFC8032_PUBLIC_PEM
    assert actions_since(before) == ["signing_key.enrolled"]
    event = AuditEvent.objects.get(action="signing_key.enrolled")
    assert event.actor_id == officer.user_id
    assert event.target_type == "accounts.signingkey"
    assert event.target_id == str(key.pk)
    assert event.data["key_id"] == RFC8032_KEY_ID
    assert event.data["status"] == "pending"


@needs_openssl
def test_a_key_made_with_openssl_is_enrolled_and_listed_with_its_fingerprint(
    officer_client, officer, tmp_path
) -> None:
    _private, public_pem = new_ed25519_key(tmp_path)
    raw = openssl("pkey", "-pubin", "-outform", "DER", stdin=public_pem.encode())[12:]
    expected_id = "ed25519:" + hashlib.sha256(raw).hexdigest()

    response = officer_client.post("/account/keys/signing/new/", {"public_key": public_pem})
    assert response.status_code == 302

    key = SigningKey.objects.get(officer=officer)
    assert key.key_id == expected_id
    page = officer_client.get("/account/keys/").content.decode()
    assert expected_id in page
    hex_id = expected_id.removeprefix("ed25519:")
    groups = " ".join(hex_id[i : i + 4] for i in range(0, 64, 4))
    assert groups in page
    assert "Pending approval" in page


@needs_openssl
def test_a_pasted_private_key_is_refused_not_stored_and_not_echoed(
    officer_client, officer, tmp_path
) -> None:
    private_pem, _public = new_ed25519_key(tmp_path)
    before = audit_mark()

    response = officer_client.post("/account/keys/signing/new/", {"public_key": private_pem})

    assert response.status_code == 400
    page = response.content.decode()
    assert "This is a private key" in page
    secret_line = private_pem.splitlines()[1]
    assert secret_line not in page
    assert "BEGIN PRIVATE KEY" not in page
    assert not SigningKey.objects.exists()
    assert actions_since(before) == []


@needs_openssl
def test_a_long_paste_with_a_private_key_is_refused_as_private_not_as_too_long(
    officer_client, tmp_path
) -> None:
    private_pem, public_pem = new_ed25519_key(tmp_path)
    pasted = public_pem + "\n" * 2000 + private_pem * 40
    assert len(pasted) > 4096

    response = officer_client.post("/account/keys/signing/new/", {"public_key": pasted})

    assert response.status_code == 400
    assert "This is a private key" in response.content.decode()
    assert "BEGIN PRIVATE KEY" not in response.content.decode()
    assert not SigningKey.objects.exists()


@needs_openssl
@pytest.mark.parametrize(
    "genpkey_args",
    [("-algorithm", "ed448"), ("-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:P-256")],
)
def test_a_key_of_another_algorithm_is_refused(officer_client, genpkey_args) -> None:
    public_pem = openssl("pkey", "-pubout", stdin=openssl("genpkey", *genpkey_args)).decode()
    before = audit_mark()

    response = officer_client.post("/account/keys/signing/new/", {"public_key": public_pem})

    assert response.status_code == 400
    assert "must be an Ed25519 key" in response.content.decode()
    assert not SigningKey.objects.exists()
    assert actions_since(before) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hello", "not a PEM public key"),
        ("", "This field is required"),
        (RFC8032_PUBLIC_PEM * 2, "exactly one public key"),
    ],
)
def test_garbage_is_refused_with_a_clear_message(officer_client, text, message) -> None:
    response = officer_client.post("/account/keys/signing/new/", {"public_key": text})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not SigningKey.objects.exists()


@pytest.mark.parametrize(
    ("language", "path", "field", "text", "message"),
    [
        (
            "fr",
            "/account/keys/signing/new/",
            "public_key",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
            "Ceci est une clé publique OpenSSH. Collez plutôt une clé publique PEM\u00a0: créez "
            "la clé avec openssl genpkey -algorithm ed25519 -out key.pem, puis lancez "
            "openssl pkey -in key.pem -pubout.",
        ),
        (
            "de",
            "/account/keys/signing/new/",
            "public_key",
            RFC8032_PUBLIC_PEM * 2,
            "Fügen Sie genau einen öffentlichen Schlüssel ein.",
        ),
        (
            "pt-br",
            "/account/keys/recipients/new/",
            "recipient",
            "age2qqqq",
            "Um destinatário age começa com age1 (veja `age-keygen -y`).",
        ),
    ],
)
def test_a_refused_key_is_explained_in_the_officers_language(
    officer_client, language, path, field, text, message
) -> None:
    response = officer_client.post(path, {field: text}, HTTP_ACCEPT_LANGUAGE=language)

    assert response.status_code == 400
    assert message in html.unescape(response.content.decode())
    assert not SigningKey.objects.exists()
    assert not AgeRecipient.objects.exists()


def test_the_same_key_twice_is_refused_and_the_first_stays(officer_client, officer) -> None:
    officer_client.post("/account/keys/signing/new/", {"public_key": RFC8032_PUBLIC_PEM})
    before = audit_mark()

    response = officer_client.post("/account/keys/signing/new/", {"public_key": RFC8032_PUBLIC_PEM})

    assert response.status_code == 400
    assert "You have already enrolled this key" in response.content.decode()
    assert SigningKey.objects.count() == 1
    assert actions_since(before) == []


def test_another_officers_key_cannot_be_enrolled_again(officer_client) -> None:
    other = make_officer()
    signing_key_enrol(officer=other, actor=other.user, public_key_pem=RFC8032_PUBLIC_PEM)

    response = officer_client.post("/account/keys/signing/new/", {"public_key": RFC8032_PUBLIC_PEM})

    assert response.status_code == 400
    assert "already enrolled" in response.content.decode()
    assert list(SigningKey.objects.values_list("officer", flat=True)) == [other.pk]


def test_a_revoked_key_is_never_enrolled_again(officer) -> None:
    key = signing_key_enrol(officer=officer, actor=officer.user, public_key_pem=RFC8032_PUBLIC_PEM)
    signing_key_revoke(key=key, actor=officer.user, reason="laptop lost")

    with pytest.raises(KeyRefused, match="never enrolled again"):
        signing_key_enrol(officer=officer, actor=officer.user, public_key_pem=RFC8032_PUBLIC_PEM)
    assert SigningKey.objects.get().status == KeyStatus.REVOKED


# --- Signing keys: revocation and isolation ---------------------------------------------------


def test_an_officer_revokes_their_key_with_a_reason_that_is_kept(officer_client, officer) -> None:
    key = signing_key_enrol(officer=officer, actor=officer.user, public_key_pem=RFC8032_PUBLIC_PEM)
    page = officer_client.get(f"/account/keys/signing/{key.pk}/revoke/")
    assert page.status_code == 200
    assert "21fe 31df" in page.content.decode()
    before = audit_mark()

    response = officer_client.post(
        f"/account/keys/signing/{key.pk}/revoke/", {"reason": "laptop stolen"}
    )

    assert response.status_code == 302
    key.refresh_from_db()
    assert key.status == KeyStatus.REVOKED
    assert key.reason == "laptop stolen"
    assert key.revoked_by == officer.user
    assert key.revoked_at is not None
    assert actions_since(before) == ["signing_key.revoked"]
    event = AuditEvent.objects.get(action="signing_key.revoked")
    assert event.data["before"] == {"status": "pending"}
    assert event.data["after"] == {"status": "revoked"}
    assert event.data["reason"] == "laptop stolen"
    assert "laptop stolen" in officer_client.get("/account/keys/").content.decode()


def test_revoking_needs_a_reason(officer_client, officer) -> None:
    key = signing_key_enrol(officer=officer, actor=officer.user, public_key_pem=RFC8032_PUBLIC_PEM)
    before = audit_mark()

    response = officer_client.post(f"/account/keys/signing/{key.pk}/revoke/", {"reason": "  "})

    assert response.status_code == 400
    key.refresh_from_db()
    assert key.status == KeyStatus.PENDING
    assert actions_since(before) == []


def test_a_revoked_key_cannot_be_revoked_again(officer_client, officer) -> None:
    key = signing_key_enrol(officer=officer, actor=officer.user, public_key_pem=RFC8032_PUBLIC_PEM)
    signing_key_revoke(key=key, actor=officer.user, reason="first")
    before = audit_mark()

    response = officer_client.post(f"/account/keys/signing/{key.pk}/revoke/", {"reason": "again"})

    assert response.status_code == 400
    key.refresh_from_db()
    assert key.reason == "first"
    assert actions_since(before) == []


def test_another_officers_key_is_not_found_and_stays_as_it_was(officer_client) -> None:
    other = make_officer(agency=make_officer().agency)
    key = signing_key_enrol(officer=other, actor=other.user, public_key_pem=RFC8032_PUBLIC_PEM)
    before = audit_mark()

    assert officer_client.get(f"/account/keys/signing/{key.pk}/revoke/").status_code == 404
    response = officer_client.post(f"/account/keys/signing/{key.pk}/revoke/", {"reason": "mine"})

    assert response.status_code == 404
    key.refresh_from_db()
    assert key.status == KeyStatus.PENDING
    assert key.revoked_at is None
    assert actions_since(before) == []
    assert RFC8032_KEY_ID not in officer_client.get("/account/keys/").content.decode()


# --- Age recipients --------------------------------------------------------------------------


@needs_age
def test_a_recipient_from_age_keygen_is_enrolled_pending(officer_client, officer, tmp_path) -> None:
    _identity, recipient = new_age_identity(tmp_path)
    before = audit_mark()

    response = officer_client.post(
        "/account/keys/recipients/new/", {"recipient": recipient, "label": "laptop"}
    )

    assert response.status_code == 302
    enrolled = AgeRecipient.objects.get(officer=officer)
    assert enrolled.recipient == recipient
    assert enrolled.status == KeyStatus.PENDING
    assert enrolled.agency is None
    assert actions_since(before) == ["age_recipient.enrolled"]
    event = AuditEvent.objects.get(action="age_recipient.enrolled")
    assert event.data["recipient"] == recipient
    assert event.data["origin"] == "pasted"
    assert recipient in officer_client.get("/account/keys/").content.decode()


@needs_age
def test_a_pasted_age_identity_is_refused_not_stored_and_not_echoed(
    officer_client, tmp_path
) -> None:
    identity, _recipient = new_age_identity(tmp_path)
    identity_file = (tmp_path / "identity.txt").read_text()
    before = audit_mark()

    response = officer_client.post("/account/keys/recipients/new/", {"recipient": identity_file})

    assert response.status_code == 400
    page = response.content.decode()
    assert "This is an age identity" in page
    assert identity not in page
    assert "AGE-SECRET-KEY" not in page
    assert not AgeRecipient.objects.exists()
    assert actions_since(before) == []


def test_a_malformed_recipient_is_refused(officer_client) -> None:
    response = officer_client.post(
        "/account/keys/recipients/new/", {"recipient": EXAMPLE_RECIPIENT[:-1] + "q"}
    )

    assert response.status_code == 400
    assert "not a valid age X25519 recipient" in response.content.decode()
    assert not AgeRecipient.objects.exists()


def test_the_same_recipient_twice_is_refused(officer_client, officer) -> None:
    age_recipient_enrol(officer=officer, actor=officer.user, recipient=EXAMPLE_RECIPIENT)

    response = officer_client.post(
        "/account/keys/recipients/new/", {"recipient": EXAMPLE_RECIPIENT}
    )

    assert response.status_code == 400
    assert "already enrolled this recipient" in response.content.decode()
    assert AgeRecipient.objects.count() == 1


def test_a_recipient_generated_in_the_browser_is_recorded_as_such(officer_client) -> None:
    response = officer_client.post(
        "/account/keys/recipients/new/", {"recipient": EXAMPLE_RECIPIENT, "origin": "browser"}
    )

    assert response.status_code == 302
    assert AuditEvent.objects.get(action="age_recipient.enrolled").data["origin"] == "browser"


def test_an_officer_revokes_their_recipient(officer_client, officer) -> None:
    recipient = age_recipient_enrol(
        officer=officer, actor=officer.user, recipient=EXAMPLE_RECIPIENT
    )
    before = audit_mark()

    response = officer_client.post(
        f"/account/keys/recipients/{recipient.pk}/revoke/", {"reason": "replaced"}
    )

    assert response.status_code == 302
    recipient.refresh_from_db()
    assert recipient.status == KeyStatus.REVOKED
    assert recipient.reason == "replaced"
    assert actions_since(before) == ["age_recipient.revoked"]


def test_another_officers_recipient_is_not_found_and_stays_as_it_was(officer_client) -> None:
    other = make_officer()
    recipient = age_recipient_enrol(officer=other, actor=other.user, recipient=EXAMPLE_RECIPIENT)
    before = audit_mark()

    response = officer_client.post(
        f"/account/keys/recipients/{recipient.pk}/revoke/", {"reason": "mine"}
    )

    assert response.status_code == 404
    recipient.refresh_from_db()
    assert recipient.status == KeyStatus.PENDING
    assert actions_since(before) == []


# --- The pages ---------------------------------------------------------------------------------


def test_the_recipient_page_loads_the_bundled_generator_as_a_module_from_static(
    officer_client,
) -> None:
    page = officer_client.get("/account/keys/recipients/new/").content.decode()

    scripts = re.findall(r"<script\b[^>]*>", page)
    assert '<script type="module" src="/static/dist/age-keygen.js">' in scripts
    bodies = re.findall(r"<script\b[^>]*>(.*?)</script>", page, flags=re.DOTALL)
    assert [body for body in bodies if body.strip()] == []  # no inline script
    assert finders.find("dist/age-keygen.js")
    assert 'id="age-keygen-button"' in page
    assert "Generate a key pair" in page


def test_the_committed_bundle_is_self_contained_and_names_no_build_machine() -> None:
    bundle = Path(finders.find("dist/age-keygen.js")).read_text()

    assert "generateX25519Identity" not in bundle  # minified: names are gone
    assert not re.search(r"(^|[;}])\s*(import|export)\b", bundle)  # dependencies bundled in
    assert not re.search(r"https?://", bundle)  # nothing is fetched
    assert "sourceMappingURL" not in bundle
    assert not re.search(r"/(home|root|work|tmp|Users)/", bundle)


def test_the_keys_pages_are_for_active_officers_only(client) -> None:
    reviewer = make_user(role=Role.REVIEWER)
    log_in(client, reviewer)
    assert client.get("/account/keys/").status_code == 403
    assert (
        client.post("/account/keys/signing/new/", {"public_key": RFC8032_PUBLIC_PEM}).status_code
        == 403
    )

    pending = make_officer(status=Officer.Status.PENDING)
    client.post("/logout/")
    log_in(client, pending.user)
    response = client.post("/account/keys/signing/new/", {"public_key": RFC8032_PUBLIC_PEM})
    assert response.status_code == 302
    assert response["Location"] == "/account/status/"
    assert not SigningKey.objects.exists()


def test_the_keys_pages_are_never_cached(officer_client) -> None:
    for path in ["/account/keys/", "/account/keys/signing/new/", "/account/keys/recipients/new/"]:
        response = officer_client.get(path)
        assert response.status_code == 200, path
        assert "no-store" in response["Cache-Control"]


# --- Passkeys as signing keys ------------------------------------------------------------


def test_an_officers_new_passkey_is_a_pending_signing_key_with_its_fingerprint(
    officer_client, officer
) -> None:
    from django_otp_webauthn.models import WebAuthnCredential

    from accounts.models import SigningPasskey
    from portal.crypto import fingerprint_groups
    from tests.factories import SoftPasskey, passkey_register

    soft = SoftPasskey()
    before = audit_mark()

    assert passkey_register(officer_client, soft).status_code == 200

    credential = WebAuthnCredential.objects.get(user=officer.user)
    key = SigningPasskey.objects.get(officer=officer)
    key_id = "webauthn:" + base64url(soft.credential_id)
    fingerprint = hashlib.sha256(soft.cose_public_key()).hexdigest()
    assert (key.key_id, key.credential, key.status) == (key_id, credential, KeyStatus.PENDING)
    assert key.public_key_sha256 == fingerprint
    assert actions_since(before) == ["second_factor.added", "signing_passkey.enrolled"]
    enrolled = AuditEvent.objects.get(action="signing_passkey.enrolled")
    assert enrolled.data["key_id"] == key_id
    assert enrolled.data["public_key_sha256"] == fingerprint
    page = officer_client.get("/account/keys/").content.decode()
    assert key_id in page
    assert fingerprint_groups(fingerprint) in page
    assert "Pending approval" in page.split(key_id)[1]


def test_a_platform_users_passkey_is_only_a_login_factor(client) -> None:
    from accounts.models import SigningPasskey
    from tests.factories import SoftPasskey, passkey_register

    reviewer = make_user(role=Role.REVIEWER)
    log_in(client, reviewer)

    assert passkey_register(client, SoftPasskey()).status_code == 200

    assert not SigningPasskey.objects.exists()


def test_a_credential_id_kept_on_record_cannot_be_registered_again(officer_client, officer):
    from django_otp_webauthn.models import WebAuthnCredential

    from accounts.models import SigningPasskey
    from accounts.services.factors import passkey_remove
    from tests.factories import SoftPasskey, passkey_register

    soft = SoftPasskey()
    assert passkey_register(officer_client, soft).status_code == 200
    passkey_remove(
        user=officer.user,
        credential=WebAuthnCredential.objects.get(user=officer.user),
        reason="Replaced.",
    )
    before = audit_mark()

    again = passkey_register(officer_client, soft)

    assert again.status_code == 409
    assert "kept on record" in again.json()["detail"]
    assert not WebAuthnCredential.objects.filter(user=officer.user).exists()
    assert SigningPasskey.objects.get().status == KeyStatus.REVOKED
    assert actions_since(before) == []


def test_the_officers_keys_page_links_only_their_own_passkeys_for_removal(
    officer_client, officer
) -> None:
    from tests.factories import make_signing_passkey

    own = make_signing_passkey(officer=officer)
    theirs = make_signing_passkey(officer=make_officer())

    page = officer_client.get("/account/keys/").content.decode()

    assert f"/account/factors/passkeys/{own.credential_id}/remove/" in page
    assert theirs.key_id not in page
    assert (
        officer_client.get(f"/account/factors/passkeys/{theirs.credential_id}/remove/").status_code
        == 404
    )
    response = officer_client.post(
        f"/account/factors/passkeys/{theirs.credential_id}/remove/", {"reason": "Mine now."}
    )
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == KeyStatus.ACTIVE
    assert theirs.credential is not None


def base64url(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --- The migration that gave existing passkeys their record ----------------------------

WEBAUTHN = ("django_otp_webauthn", "0004_webauthnuserhandle")
BEFORE_PASSKEYS = [("accounts", "0002_authfailure_agency_agencydomain_officer_and_more"), WEBAUTHN]
AFTER_PASSKEYS = [("accounts", "0003_signing_passkey"), WEBAUTHN]


@pytest.mark.django_db(transaction=True)
def test_existing_passkeys_are_active_only_if_the_officers_approval_covered_them() -> None:
    from datetime import timedelta

    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor
    from django.utils import timezone

    from tests.factories import SoftPasskey

    def migrate(targets):
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(targets)
        return executor.loader.project_state(targets).apps

    try:
        apps = migrate(BEFORE_PASSKEYS)
        user_model = apps.get_model("accounts", "User")
        agency_model = apps.get_model("accounts", "Agency")
        officer_model = apps.get_model("accounts", "Officer")
        credential_model = apps.get_model("django_otp_webauthn", "WebAuthnCredential")
        now = timezone.now()
        agency = agency_model.objects.create(
            name="Migration Police", country="DE", kind="police", status="verified"
        )
        admin = user_model.objects.create(email="admin@platform.example", role="vetting_admin")

        def officer_with_passkey(name, *, status, vetted_at, added_at):
            user = user_model.objects.create(email=f"{name}@police.example", role="officer")
            officer_model.objects.create(
                user=user,
                agency=agency,
                title="Inspector",
                badge_number=name,
                status=status,
                vetted_by=admin if vetted_at else None,
                vetted_at=vetted_at,
            )
            soft = SoftPasskey()
            credential = credential_model.objects.create(
                user=user,
                name="Phone",
                credential_id=soft.credential_id,
                credential_id_sha256=hashlib.sha256(soft.credential_id).hexdigest(),
                public_key=soft.cose_public_key(),
                confirmed=True,
            )
            credential_model.objects.filter(pk=credential.pk).update(created_at=added_at)
            return soft

        covered = officer_with_passkey(
            "covered", status="active", vetted_at=now, added_at=now - timedelta(days=1)
        )
        added_later = officer_with_passkey(
            "later", status="active", vetted_at=now - timedelta(days=2), added_at=now
        )
        suspended = officer_with_passkey(
            "suspended", status="suspended", vetted_at=now, added_at=now - timedelta(days=1)
        )
        waiting = officer_with_passkey(
            "waiting", status="pending", vetted_at=None, added_at=now - timedelta(days=1)
        )
        staff = user_model.objects.create(email="reviewer@platform.example", role="reviewer")
        credential_model.objects.create(
            user=staff,
            credential_id=b"staff",
            credential_id_sha256=hashlib.sha256(b"staff").hexdigest(),
            public_key=b"\xa0",
            confirmed=True,
        )

        apps = migrate(AFTER_PASSKEYS)

        passkey_model = apps.get_model("accounts", "SigningPasskey")
        status = {
            row.key_id: (row.status, row.decided_by_id) for row in passkey_model.objects.all()
        }
        assert status == {
            "webauthn:" + base64url(covered.credential_id): ("active", admin.pk),
            "webauthn:" + base64url(added_later.credential_id): ("pending", None),
            "webauthn:" + base64url(suspended.credential_id): ("pending", None),
            "webauthn:" + base64url(waiting.credential_id): ("pending", None),
        }
        row = passkey_model.objects.get(key_id="webauthn:" + base64url(covered.credential_id))
        assert row.public_key_sha256 == hashlib.sha256(covered.cose_public_key()).hexdigest()
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
