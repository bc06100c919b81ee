"""Every cryptographic operation of the portal, behind typed exceptions.

Nothing else in the code imports ``cryptography`` or ``pyrage``, or runs the age tool: a
reviewer checking how keys are parsed, signatures verified or responses sealed reads this
one module.
"""

import base64
import functools
import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Protocol

import pyrage
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.utils.translation import gettext

ED25519_KEY_ID_PREFIX = "ed25519:"
MAX_PEM_LENGTH = 4096
PEM_PUBLIC_KEY_BEGIN = "-----BEGIN PUBLIC KEY-----"
PEM_PUBLIC_KEY_END = "-----END PUBLIC KEY-----"


class Readable(Protocol):
    """Anything with ``read``: a file, an upload, a stored file of Django's storage."""

    def read(self, size: int = -1, /) -> bytes: ...


class CryptoError(Exception):
    """Base of every refusal raised here; the message is safe to show to the key's owner."""


class InvalidKey(CryptoError):
    """The text is not a key of the expected kind."""


class SecretKeyMaterial(InvalidKey):
    """The text is a private key or an age identity: refused, never stored or echoed."""


class BadSignature(CryptoError):
    """The signature does not verify over the message with the key."""


def looks_like_secret_key(text: str) -> bool:
    """Tell whether pasted text holds a private key or an age identity.

    Callers use it to refuse the text and to make sure it is never echoed back.
    """
    return "PRIVATE KEY" in text or "AGE-SECRET-KEY-" in text.upper()


def ed25519_public_key_from_pem(pem: str) -> Ed25519PublicKey:
    """Parse a PEM SubjectPublicKeyInfo (``openssl pkey -pubout``) holding an Ed25519 key.

    Exactly one ``PUBLIC KEY`` block and nothing else: a paste of two keys, or a key with
    text around it, is refused rather than silently reduced to its first key.
    """
    if not isinstance(pem, str):
        raise InvalidKey(gettext("The public key must be a PEM text of a few lines."))
    if looks_like_secret_key(pem):
        raise SecretKeyMaterial(
            gettext(
                "This is a private key. Never send it to anyone: paste the public key "
                "(openssl pkey -in key.pem -pubout) and keep the private key to yourself."
            )
        )
    if len(pem) > MAX_PEM_LENGTH:
        raise InvalidKey(gettext("The public key must be a PEM text of a few lines."))
    text = pem.strip()
    if text.startswith(("ssh-ed25519 ", "ssh-rsa ", "ecdsa-sha2-", "sk-ssh-")):
        raise InvalidKey(
            gettext(
                "This is an OpenSSH public key. Paste a PEM public key instead: make the key "
                "with openssl genpkey -algorithm ed25519 -out key.pem, then run "
                "openssl pkey -in key.pem -pubout."
            )
        )
    if "BEGIN CERTIFICATE" in text:
        raise InvalidKey(
            gettext(
                "This is a certificate. Paste the PEM public key itself "
                "(openssl pkey -in key.pem -pubout)."
            )
        )
    if text.count("-----BEGIN ") > 1:
        raise InvalidKey(gettext("Paste exactly one public key."))
    try:
        key = serialization.load_pem_public_key(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError, TypeError) as exc:
        raise InvalidKey(
            gettext("This is not a PEM public key. It starts with -----BEGIN PUBLIC KEY-----.")
        ) from exc
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidKey(
            gettext("The key must be an Ed25519 key (openssl genpkey -algorithm ed25519).")
        )
    if not (text.startswith(PEM_PUBLIC_KEY_BEGIN) and text.endswith(PEM_PUBLIC_KEY_END)):
        raise InvalidKey(
            gettext(
                "Paste only the public key, from -----BEGIN PUBLIC KEY----- to "
                "-----END PUBLIC KEY-----."
            )
        )
    return key


def ed25519_private_key_generate() -> Ed25519PrivateKey:
    """A fresh Ed25519 key pair (the demo data's stand-in for an authority's case system)."""
    return Ed25519PrivateKey.generate()


def ed25519_public_key_pem(key: Ed25519PublicKey) -> str:
    """Return the canonical PEM SubjectPublicKeyInfo of a public key."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def ed25519_key_id(key: Ed25519PublicKey) -> str:
    """Return ``ed25519:`` + lowercase hex SHA-256 of the raw 32-byte public key."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return ED25519_KEY_ID_PREFIX + hashlib.sha256(raw).hexdigest()


def ed25519_verify(key: Ed25519PublicKey, signature: bytes, message: bytes) -> None:
    """Verify an Ed25519 signature; raise ``BadSignature`` if it does not hold."""
    try:
        key.verify(signature, message)
    except InvalidSignature as exc:
        raise BadSignature("The signature does not verify.") from exc


def fingerprint_groups(key_id: str) -> str:
    """Split a key id's hex into groups of four, for comparing by eye or by phone."""
    hex_part = key_id.split(":", 1)[-1]
    return " ".join(hex_part[i : i + 4] for i in range(0, len(hex_part), 4))


def age_recipient_normalise(text: str) -> str:
    """Return the canonical form of an age X25519 recipient (``age1...``), or raise."""
    candidate = (text or "").strip()
    if looks_like_secret_key(candidate):
        raise SecretKeyMaterial(
            gettext(
                "This is an age identity (a secret key). Never send it to anyone: paste the "
                "recipient that `age-keygen -y identity.txt` prints."
            )
        )
    if not candidate.lower().startswith("age1") or len(candidate) > 100:
        raise InvalidKey(gettext("An age recipient starts with age1 (see `age-keygen -y`)."))
    try:
        pyrage.x25519.Recipient.from_str(candidate.lower())
    except Exception as exc:  # pyrage raises its own types for every malformation
        raise InvalidKey(gettext("This is not a valid age X25519 recipient.")) from exc
    return candidate.lower()


def age_identity_recipient(identity: str) -> str:
    """Return the recipient (``age1...``) of an age X25519 identity, as ``age-keygen -y``.

    For tools and tests that check an identity made elsewhere (the browser, age-keygen);
    the portal itself never holds an identity.
    """
    candidate = (identity or "").strip()
    try:
        parsed = pyrage.x25519.Identity.from_str(candidate)
    except Exception as exc:  # pyrage raises its own types for every malformation
        raise InvalidKey(gettext("This is not an age X25519 identity.")) from exc
    return str(parsed.to_public())


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def b64decode_strict(text: str) -> bytes:
    """Decode standard base64, refusing anything but the one canonical encoding.

    ``b64decode(validate=True)`` still accepts set padding bits ("YWJk" and "YWJl" both
    decode to b"ab" plus bits it drops) and missing padding is refused, so a second,
    different text could carry the same signature. Re-encoding and comparing leaves a
    single spelling for each value: what was signed and stored is what was sent.
    """
    value = base64.b64decode(text, validate=True)
    if base64.b64encode(value).decode("ascii") != text:
        raise ValueError("Not the canonical base64 encoding of its value.")
    return value


# --- The portal's own signing key (receipts, response signatures) ------------------------


class PortalKeyMissing(CryptoError):
    """The portal's signing key file is absent where it must be supplied."""


def _key_file_ensure(path: Path, *, what: str, create: bool, content: Callable[[], bytes]) -> None:
    """Make sure the key file ``path`` exists: in development, write ``content()`` once.

    The file is written under a temporary name (mode 0600) and linked into place: link()
    fails if another process created the key first, and both then read that one.
    """
    if path.exists():
        return
    if not create:
        raise PortalKeyMissing(f"The portal {what} {path} does not exist.")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(content())
    temporary.chmod(0o600)
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()


def _new_ed25519_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load_or_create_portal_key(path: Path, *, create: bool) -> Ed25519PrivateKey:
    _key_file_ensure(path, what="signing key", create=create, content=_new_ed25519_pem)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidKey(f"The portal signing key {path} is not an Ed25519 private key.")
    return key


@functools.cache
def _portal_key(path: str, create: bool) -> Ed25519PrivateKey:
    return _load_or_create_portal_key(Path(path), create=create)


def portal_signing_key() -> Ed25519PrivateKey:
    """The portal's Ed25519 key, from PORTAL_SIGNING_KEY_FILE.

    Development creates the file on first use; production refuses to start without it
    (settings). The same file must be given to every web and Celery process.
    """
    from django.conf import settings

    return _portal_key(str(settings.PORTAL_SIGNING_KEY_FILE), not settings.PRODUCTION)


def portal_public_key_document() -> dict[str, str]:
    """What GET /api/v1/portal-key publishes."""
    public = portal_signing_key().public_key()
    return {
        "alg": "ed25519",
        "key_id": ed25519_key_id(public),
        "public_key_pem": ed25519_public_key_pem(public),
    }


def portal_sign(message: bytes) -> bytes:
    return portal_signing_key().sign(message)


def portal_receipt(*, reference: str, payload_sha256: str, received_at: str) -> dict[str, str]:
    """The authority's proof of delivery: the portal's signature over the JCS of the three."""
    signed = {"reference": reference, "payload_sha256": payload_sha256, "received_at": received_at}
    signature = portal_sign(rfc8785.dumps(signed))
    return {
        **signed,
        "alg": "ed25519",
        "key_id": ed25519_key_id(portal_signing_key().public_key()),
        "signature": base64.b64encode(signature).decode("ascii"),
    }


class SealError(CryptoError):
    """Sealing failed; nothing usable was produced."""


# --- The portal's storage key (legal documents at rest) ---------------------------------------
#
# Authorities' legal documents (court orders, warrants) name who is investigated. They are
# kept in the same storage as sealed responses (a folder, or an object-storage bucket in
# production), but only as age ciphertext to the portal's own storage key: whoever takes
# the bucket without the key file reads nothing. The key is an age X25519 identity, kept
# apart from the storage like the signing key (age-keygen -o storage-key.txt).


def _new_age_identity_file() -> bytes:
    identity = pyrage.x25519.Identity.generate()
    return f"# public key: {identity.to_public()}\n{identity}\n".encode("ascii")


def _load_or_create_storage_identity(path: Path, *, create: bool) -> pyrage.x25519.Identity:
    _key_file_ensure(path, what="storage key", create=create, content=_new_age_identity_file)
    lines = [
        line.strip()
        for line in path.read_text(encoding="ascii").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    if len(lines) != 1:
        raise InvalidKey(f"The portal storage key {path} must hold exactly one age identity.")
    try:
        return pyrage.x25519.Identity.from_str(lines[0])
    except pyrage.IdentityError as exc:
        raise InvalidKey(f"The portal storage key {path} is not an age identity: {exc}") from exc


@functools.cache
def _storage_identity(path: str, create: bool) -> pyrage.x25519.Identity:
    return _load_or_create_storage_identity(Path(path), create=create)


def storage_identity() -> pyrage.x25519.Identity:
    """The portal's storage key, from PORTAL_STORAGE_KEY_FILE (created in development)."""
    from django.conf import settings

    return _storage_identity(str(settings.PORTAL_STORAGE_KEY_FILE), not settings.PRODUCTION)


@functools.cache
def _storage_recipient(path: str, create: bool) -> pyrage.x25519.Recipient:
    return _storage_identity(path, create).to_public()


def storage_seal(source: Readable, sink: BinaryIO) -> None:
    """Encrypt ``source`` to the portal's storage key, into ``sink`` (streamed).

    The recipient is derived from the identity once per process (a scalar multiplication
    that every stored attachment would otherwise repeat).
    """
    from django.conf import settings

    recipient = _storage_recipient(str(settings.PORTAL_STORAGE_KEY_FILE), not settings.PRODUCTION)
    try:
        pyrage.encrypt_io(source, sink, [recipient])
    except pyrage.EncryptError as exc:
        raise SealError(f"age encryption failed: {exc}") from exc


def storage_open(source: Readable, sink: BinaryIO) -> None:
    """Decrypt what ``storage_seal`` wrote, into ``sink``; ``CryptoError`` if it cannot."""
    try:
        pyrage.decrypt_io(source, sink, [storage_identity()])
    except pyrage.DecryptError as exc:
        raise CryptoError(f"The stored file does not open with the storage key: {exc}") from exc


# --- age sealing -------------------------------------------------------------------------------


# A seal hashes and frames as many bytes as it encrypts, so age runs in a process of its own,
# from its standard input (the ZIP's pipe) to its standard output (the ciphertext's): the
# Python threads and age use the cores side by side. That process is the age tool itself
# (AGE_TOOL, the reference implementation in Go: `age --encrypt -r R ...`) where it is
# installed, and otherwise a Python interpreter running pyrage (which holds the GIL for as
# long as it encrypts, and encrypts at about two thirds of age's speed: bench/README.md).
# Both write the same age v1 format to the same recipients.
_AGE_CHILD = (
    "import sys, pyrage\n"
    "recipients = [pyrage.x25519.Recipient.from_str(r) for r in sys.argv[1:]]\n"
    "pyrage.encrypt_file('/dev/stdin', '/dev/stdout', recipients)\n"
)


def age_encryption_command(recipients: list[str], tool: str) -> list[str]:
    """The child's argv: the age tool at ``tool``, or (``tool`` empty) pyrage in Python.

    The recipients have been checked (``age1...``, so none reads as an option); no shell,
    nothing from the environment.
    """
    if tool:
        return [tool, "--encrypt", *(arg for r in recipients for arg in ("-r", r))]
    return [sys.executable, "-I", "-c", _AGE_CHILD, *recipients]


def _age_reason(errors: bytes, returncode: int) -> str:
    """The child's reason from its standard error.

    The age tool writes ``age: error: REASON`` and then a line asking for a bug report;
    pyrage's child ends with the exception. Either way the reason is one line.
    """
    lines = errors.decode(errors="replace").strip().splitlines()
    for line in lines:
        if line.startswith("age: error: "):
            return line.removeprefix("age: error: ")
    return lines[-1] if lines else f"exit status {returncode}"


class AgeEncryption:
    """age encrypting, in a child process, what the pipe ``source`` brings into ``sink``.

    The child is the age tool named by the AGE_TOOL setting, or pyrage in a Python child
    where that is empty. ``source`` and ``sink`` are file descriptors (the read end of the
    plaintext's pipe, the write end of the ciphertext's); the child gets them as its
    standard input and output, and they are closed here. The ciphertext ends when the
    plaintext does. ``finish`` waits for the child and raises ``SealError`` if it failed;
    ``stop`` ends it at once.
    """

    def __init__(self, recipients: list[str], *, source: int, sink: int) -> None:
        from django.conf import settings

        try:
            if not recipients:
                raise SealError("There is no recipient to seal to.")
            try:
                for recipient in recipients:  # refused here, with pyrage's reason
                    pyrage.x25519.Recipient.from_str(recipient)
            except pyrage.RecipientError as exc:
                raise SealError(f"age encryption failed: {exc}") from exc
            tool = settings.AGE_TOOL
            self.command = age_encryption_command(recipients, tool)
            try:
                self.process = subprocess.Popen(  # noqa: S603 (the age tool or our interpreter)
                    self.command,
                    stdin=source,
                    stdout=sink,
                    stderr=subprocess.PIPE,
                    env={},
                )
            except OSError as exc:
                if not tool:
                    raise
                raise SealError(
                    f"age encryption failed: the age tool {tool} (AGE_TOOL) cannot be run: "
                    f"{exc.strerror or exc}"
                ) from exc
        finally:
            os.close(source)
            os.close(sink)

    def finish(self) -> None:
        _out, errors = self.process.communicate()
        if self.process.returncode != 0:
            reason = _age_reason(errors, self.process.returncode)
            raise SealError(f"age encryption failed: {reason}")

    def stop(self) -> None:
        self.process.kill()
        self.process.communicate()


# --- TOTP seeds at rest --------------------------------------------------------------------
#
# django-otp keeps an authenticator app's seed in the database (otp_totp_totpdevice.key, hex):
# a copy of the database would let its holder make every user's codes. The portal stores
# the seed there only as AES-256-GCM ciphertext under a key kept in a file outside the
# database (TOTP_SEED_KEY_FILE; development creates it on first use, production must
# supply it). The device's user id is the associated data, so a ciphertext copied into
# another user's row does not decrypt. The stored form is "v1:" + base64url(nonce |
# ciphertext | tag): 67 characters for django-otp's 20-byte seeds, within its 80.

TOTP_SEED_PREFIX = "v1:"
_TOTP_NONCE_BYTES = 12


class TotpSeedUnreadable(CryptoError):
    """A stored TOTP seed does not decrypt under the portal's key (or is not one)."""


def _new_totp_seed_key() -> bytes:
    return base64.b64encode(os.urandom(32)) + b"\n"


@functools.cache
def _totp_seed_key(path: str, create: bool) -> bytes:
    _key_file_ensure(Path(path), what="TOTP seed key", create=create, content=_new_totp_seed_key)
    try:
        key = base64.b64decode(Path(path).read_bytes().strip(), validate=True)
    except ValueError as exc:
        raise InvalidKey(f"The TOTP seed key {path} is not base64.") from exc
    if len(key) != 32:
        raise InvalidKey(f"The TOTP seed key {path} must hold 32 bytes (base64), not {len(key)}.")
    return key


def totp_seed_key() -> bytes:
    """The AES-256 key of TOTP seeds, from TOTP_SEED_KEY_FILE (created in development)."""
    from django.conf import settings

    return _totp_seed_key(str(settings.TOTP_SEED_KEY_FILE), not settings.PRODUCTION)


def _totp_aad(user_id: int) -> bytes:
    return f"portal totp seed, user {user_id}".encode("ascii")


def totp_seed_is_sealed(stored: str) -> bool:
    return stored.startswith(TOTP_SEED_PREFIX)


def totp_seed_seal(seed: bytes, *, user_id: int) -> str:
    """The stored form of a TOTP seed for the device of ``user_id``."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(_TOTP_NONCE_BYTES)
    sealed = AESGCM(totp_seed_key()).encrypt(nonce, seed, _totp_aad(user_id))
    return TOTP_SEED_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")


def totp_seed_open(stored: str, *, user_id: int) -> bytes:
    """The TOTP seed from its stored form; ``TotpSeedUnreadable`` if it does not open."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if not totp_seed_is_sealed(stored):
        raise TotpSeedUnreadable("The stored TOTP seed is not sealed.")
    text = stored[len(TOTP_SEED_PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        return AESGCM(totp_seed_key()).decrypt(
            raw[:_TOTP_NONCE_BYTES], raw[_TOTP_NONCE_BYTES:], _totp_aad(user_id)
        )
    except (ValueError, InvalidTag) as exc:
        raise TotpSeedUnreadable(
            "The stored TOTP seed does not open with the portal's key."
        ) from exc


# --- RFC 3161 time-stamps (tree heads of the audit log) ----------------------------------------


class TimestampInvalid(CryptoError):
    """A time-stamping authority's answer is not a valid time-stamp over the message."""


def rfc3161_request(message: bytes) -> tuple[bytes, int | None]:
    """A DER TimeStampReq over SHA-256 of ``message`` (with a nonce and the TSA's
    certificate requested), and the nonce to expect back."""
    from rfc3161_client import HashAlgorithm, TimestampRequestBuilder

    request = (
        TimestampRequestBuilder()
        .data(message)
        .hash_algorithm(HashAlgorithm.SHA256)
        .nonce(nonce=True)
        .cert_request(cert_request=True)
        .build()
    )
    return request.as_bytes(), request.nonce


def rfc3161_verify(
    response: bytes, message: bytes, *, roots_pem: bytes, nonce: int | None = None
) -> datetime:
    """Verify a DER TimeStampResp over ``message``; return its time (genTime).

    The token must be granted, signed by a certificate with the critical time-stamping
    key usage that chains to one of ``roots_pem``, carry ``nonce`` when given, and hold
    SHA-256 (or -384, -512) of ``message``. Raises ``TimestampInvalid`` otherwise.
    """
    from cryptography import x509
    from rfc3161_client import VerificationError, VerifierBuilder, decode_timestamp_response

    try:
        decoded = decode_timestamp_response(response)
        builder = VerifierBuilder()
        for root in x509.load_pem_x509_certificates(roots_pem):
            builder = builder.add_root_certificate(root)
        if nonce is not None:
            builder = builder.nonce(nonce)
        builder.build().verify_message(decoded, message)
        generated: datetime = decoded.tst_info.gen_time
    except (VerificationError, ValueError, TypeError) as exc:
        raise TimestampInvalid(f"The time-stamp does not verify: {exc}") from exc
    return generated if generated.tzinfo else generated.replace(tzinfo=UTC)
