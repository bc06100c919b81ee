"""System checks for configurations that would run but be unsafe."""

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def production_configuration(app_configs: Any, **kwargs: Any) -> list[Error]:
    errors = []
    if settings.PRODUCTION:
        if not settings.PORTAL_AUDIENCE.startswith("https://"):
            errors.append(
                Error(
                    "PORTAL_AUDIENCE must be an https:// origin in production.",
                    hint="Set it to the portal's public origin, e.g. https://portal.example.",
                    id="portal.E001",
                )
            )
        if settings.CELERY_TASK_ALWAYS_EAGER:
            errors.append(
                Error(
                    "Celery tasks would run eagerly inside web requests.",
                    hint="Set CELERY_BROKER_URL to the Redis broker.",
                    id="portal.E002",
                )
            )
        if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
            errors.append(
                Error(
                    "Production needs PostgreSQL (the audit log's append-only triggers and its "
                    "sequencer's commit order rely on it).",
                    hint="Set DATABASE_URL=postgres://...",
                    id="portal.E003",
                )
            )
        from . import crypto

        try:
            crypto.portal_signing_key()
        except (OSError, crypto.CryptoError, ValueError) as exc:
            errors.append(
                Error(
                    f"The portal signing key cannot be read: {exc}",
                    hint="Set PORTAL_SIGNING_KEY_FILE to an Ed25519 PEM private key "
                    "(openssl genpkey -algorithm ed25519).",
                    id="portal.E004",
                )
            )
        try:
            crypto.storage_identity()
        except (OSError, crypto.CryptoError, ValueError) as exc:
            errors.append(
                Error(
                    f"The portal storage key cannot be read: {exc}",
                    hint="Set PORTAL_STORAGE_KEY_FILE to an age identity file "
                    "(age-keygen -o storage-key.txt).",
                    id="portal.E005",
                )
            )
    return errors
