"""An officer's passkey becomes a signing key with an approval of its own (issue #3).

Every confirmed passkey of an officer gets a ``SigningPasskey`` row. The rule for the
passkeys that exist before this migration:

* ``active`` if the officer is active and the passkey already existed when an
  administrator approved the officer (``created_at <= vetted_at``). That approval
  checked the officer's factors after a confirmed callback, and the passkey was one of
  them: it is recorded as decided by that administrator, at that time.
* ``pending`` for every other passkey: one added after the officer's approval (nobody
  looked at it, and this is exactly the phished-password-plus-one-code attack the
  approval is for), and every passkey of an officer who is not active (waiting,
  suspended, rejected), who needs a fresh look on reinstatement anyway.

No audit event is written here: the audit chain is appended only by the running portal;
``decided_by``/``decided_at`` carry the officer approval that covered the passkey.
"""

import base64
import hashlib

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def _key_id(credential_id: bytes) -> str:
    return "webauthn:" + base64.urlsafe_b64encode(credential_id).rstrip(b"=").decode("ascii")


def signing_passkeys_create(apps, schema_editor):
    Credential = apps.get_model("django_otp_webauthn", "WebAuthnCredential")
    Officer = apps.get_model("accounts", "Officer")
    SigningPasskey = apps.get_model("accounts", "SigningPasskey")
    officers = {o.user_id: o for o in Officer.objects.all()}
    for credential in Credential.objects.filter(confirmed=True).order_by("pk"):
        officer = officers.get(credential.user_id)
        if officer is None:
            continue  # platform staff: a passkey is only a login factor for them
        covered = (
            officer.status == "active"
            and officer.vetted_at is not None
            and credential.created_at is not None
            and credential.created_at <= officer.vetted_at
        )
        SigningPasskey.objects.create(
            officer=officer,
            credential=credential,
            key_id=_key_id(bytes(credential.credential_id)),
            public_key_sha256=hashlib.sha256(bytes(credential.public_key)).hexdigest(),
            label=(credential.name or "")[:120],
            status="active" if covered else "pending",
            created_at=credential.created_at or django.utils.timezone.now(),
            decided_by_id=officer.vetted_by_id if covered else None,
            decided_at=officer.vetted_at if covered else None,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_authfailure_agency_agencydomain_officer_and_more"),
        ("django_otp_webauthn", "0004_webauthnuserhandle"),
    ]

    operations = [
        migrations.CreateModel(
            name="SigningPasskey",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("label", models.CharField(blank=True, max_length=120)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "Pending approval"),
                            ("active", "Active"),
                            ("revoked", "Revoked"),
                            ("rejected", "Rejected"),
                        ],
                        db_index=True,
                        default="pending",
                        max_length=20,
                    ),
                ),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("decided_at", models.DateTimeField(blank=True, null=True)),
                ("revoked_at", models.DateTimeField(blank=True, null=True)),
                ("reason", models.TextField(blank=True)),
                ("key_id", models.CharField(max_length=1400, unique=True)),
                ("public_key_sha256", models.CharField(max_length=64)),
                (
                    "credential",
                    models.OneToOneField(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="signing_passkey",
                        to="django_otp_webauthn.webauthncredential",
                    ),
                ),
                (
                    "decided_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "officer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="signing_passkeys",
                        to="accounts.officer",
                    ),
                ),
                (
                    "revoked_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at"],
            },
        ),
        migrations.RunPython(signing_passkeys_create, migrations.RunPython.noop),
    ]
