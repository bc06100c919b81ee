"""System checks for configurations that would run but be unsafe."""

import os
import stat
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


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
        try:
            crypto.totp_seed_key()
        except (OSError, crypto.CryptoError, ValueError) as exc:
            errors.append(
                Error(
                    f"The TOTP seed key cannot be read: {exc}",
                    hint="Set TOTP_SEED_KEY_FILE to a file of 32 random bytes in base64 "
                    "(head -c 32 /dev/urandom | base64 > totp-seed-key.txt).",
                    id="portal.E008",
                )
            )
    return errors


def key_file_settings() -> list[str]:
    """The names of every setting that points at a key file (``*_KEY_FILE``)."""
    return sorted(name for name in dir(settings) if name.endswith("_KEY_FILE"))


@register(Tags.security, deploy=True)
def configuration_without_debug(app_configs: Any, **kwargs: Any) -> list[Error]:
    """With DEBUG off: the platform's data source chosen, key files private to the portal."""
    errors: list[Error] = []
    if settings.DEBUG:
        return errors
    if not settings.PLATFORM_DATA_SOURCE_EXPLICIT:
        errors.append(
            Error(
                "PLATFORM_DATA_SOURCE is not set: disclosures would come from the demo's own "
                "table (directory).",
                hint="Set PLATFORM_DATA_SOURCE in the environment: http for the platform's "
                "lookup API (docs/platform-data-source.md), or directory on purpose.",
                id="portal.E006",
            )
        )
    for name in key_file_settings():
        path = Path(str(getattr(settings, name)))
        try:
            mode = path.stat().st_mode
        except OSError:
            continue  # a missing key file has its own check (portal.E004, E005, E008)
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            errors.append(
                Error(
                    f"{name} ({path}) is open to its group or to others "
                    f"(mode {stat.filemode(mode)}).",
                    hint=f"Only the portal's user may read a key: chmod 600 {path}.",
                    id="portal.E007",
                )
            )
    return errors


@register()
def age_tool(app_configs: Any, **kwargs: Any) -> list[Error]:
    """AGE_TOOL, when set, is the absolute path of an executable file (every mode, every run)."""
    tool = settings.AGE_TOOL
    if not tool:
        return []
    path = Path(tool)
    if path.is_absolute() and path.is_file() and os.access(path, os.X_OK):
        return []
    return [
        Error(
            f"AGE_TOOL ({tool}) is not the absolute path of an executable file: no response "
            "could be sealed.",
            hint="Install the age tool (Debian: apt-get install age) and set AGE_TOOL to its "
            "path (/usr/bin/age), or set AGE_TOOL= (empty) to seal with pyrage instead.",
            id="portal.E009",
        )
    ]


@register(Tags.security, deploy=True)
def production_age_tool(app_configs: Any, **kwargs: Any) -> list[Warning]:
    """Production seals with the age tool: pyrage is the developer machine's fallback."""
    if not settings.PRODUCTION or settings.AGE_TOOL:
        return []
    return [
        Warning(
            "AGE_TOOL is empty: responses would be sealed with pyrage, in a Python process, "
            "at about two thirds of the age tool's speed (bench/README.md).",
            hint="Install the age tool (Debian: apt-get install age); AGE_TOOL then defaults "
            "to the age on PATH, or set it to its path (/usr/bin/age).",
            id="portal.W001",
        )
    ]
