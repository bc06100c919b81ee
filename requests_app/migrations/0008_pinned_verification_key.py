"""Pin the public key that verified each request (``LegalRequest.verification_key``).

Requests accepted before this migration get the key they name, where it still exists:
the signing key's PEM (API) or the passkey's COSE key in base64url (web).
"""

import base64

from django.db import migrations, models


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def pin_existing(apps, schema_editor):
    LegalRequest = apps.get_model("requests_app", "LegalRequest")
    Credential = apps.get_model("django_otp_webauthn", "WebAuthnCredential")
    for request in LegalRequest.objects.filter(verification_key="").select_related("signing_key"):
        key = ""
        if request.signing_key is not None:
            key = request.signing_key.public_key_pem
        elif request.key_id.startswith("webauthn:"):
            encoded = request.key_id.removeprefix("webauthn:")
            raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            credential = Credential.objects.filter(credential_id=raw).first()
            if credential is not None:
                key = _b64url(bytes(credential.public_key))
        if key:
            LegalRequest.objects.filter(pk=request.pk).update(verification_key=key)


class Migration(migrations.Migration):
    dependencies = [
        ("requests_app", "0007_attachments_at_rest"),
        ("django_otp_webauthn", "0004_webauthnuserhandle"),
    ]

    operations = [
        migrations.AddField(
            model_name="legalrequest",
            name="verification_key",
            field=models.TextField(blank=True),
        ),
        migrations.RunPython(pin_existing, migrations.RunPython.noop),
    ]
