"""portal.crypto: key parsing, key ids and age recipients, checked against known answers
and against the real openssl and age-keygen commands."""

import base64
import hashlib
import subprocess
from pathlib import Path

import pytest

from portal import crypto

# RFC 8032, section 7.1, TEST 1: its public key, raw and as openssl prints it.
RFC8032_PUBLIC_HEX = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
RFC8032_PUBLIC_PEM = (
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
    "-----END PUBLIC KEY-----\n"
)
# sha256 of the 32 raw bytes above, computed once with
#   openssl pkey -pubin -in rfc8032.pem -outform DER | tail -c +13 | sha256sum
RFC8032_KEY_ID = "ed25519:21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9"
SPKI_ED25519_HEADER = bytes.fromhex("302a300506032b6570032100")

needs_openssl = pytest.mark.needs_commands("openssl")
needs_age = pytest.mark.needs_commands("age-keygen")


def openssl(*args: str, stdin: bytes | None = None) -> bytes:
    return subprocess.run(["openssl", *args], input=stdin, capture_output=True, check=True).stdout


def test_the_key_id_of_a_fixed_key_is_its_known_answer() -> None:
    key = crypto.ed25519_public_key_from_pem(RFC8032_PUBLIC_PEM)

    assert crypto.ed25519_key_id(key) == RFC8032_KEY_ID
    assert (
        RFC8032_KEY_ID == "ed25519:" + hashlib.sha256(bytes.fromhex(RFC8032_PUBLIC_HEX)).hexdigest()
    )


@needs_openssl
def test_the_key_id_is_the_sha256_of_the_der_key_without_its_12_byte_header() -> None:
    der = openssl("pkey", "-pubin", "-outform", "DER", stdin=RFC8032_PUBLIC_PEM.encode())

    assert der[:12] == SPKI_ED25519_HEADER
    assert der[12:].hex() == RFC8032_PUBLIC_HEX
    assert "ed25519:" + hashlib.sha256(der[12:]).hexdigest() == RFC8032_KEY_ID


@needs_openssl
def test_a_key_made_by_openssl_parses_and_its_id_matches_openssls_bytes(tmp_path: Path) -> None:
    private = tmp_path / "key.pem"
    openssl("genpkey", "-algorithm", "ed25519", "-out", str(private))
    public_pem = openssl("pkey", "-in", str(private), "-pubout").decode()
    raw = openssl("pkey", "-in", str(private), "-pubout", "-outform", "DER")[12:]

    key = crypto.ed25519_public_key_from_pem(public_pem)

    assert crypto.ed25519_key_id(key) == "ed25519:" + hashlib.sha256(raw).hexdigest()
    assert crypto.ed25519_public_key_pem(key) == public_pem


def test_the_canonical_pem_of_a_key_parses_back_to_the_same_id() -> None:
    key = crypto.ed25519_public_key_from_pem("\n\n  " + RFC8032_PUBLIC_PEM + "  \n")
    again = crypto.ed25519_public_key_from_pem(crypto.ed25519_public_key_pem(key))
    assert crypto.ed25519_key_id(again) == RFC8032_KEY_ID


def test_fingerprint_groups_split_the_hex_in_fours_for_reading_aloud() -> None:
    groups = crypto.fingerprint_groups(RFC8032_KEY_ID).split(" ")
    assert len(groups) == 16
    assert groups[:3] == ["21fe", "31df", "a154"]
    assert "".join(groups) == RFC8032_KEY_ID.removeprefix("ed25519:")


@needs_openssl
@pytest.mark.parametrize(
    "genpkey_args",
    [
        ("-algorithm", "ed25519"),
        ("-algorithm", "x25519"),
        ("-algorithm", "rsa", "-pkeyopt", "rsa_keygen_bits:1024"),
    ],
)
def test_a_private_key_is_refused_as_secret_material(tmp_path: Path, genpkey_args) -> None:
    private_pem = openssl("genpkey", *genpkey_args).decode()

    with pytest.raises(crypto.SecretKeyMaterial, match="private key"):
        crypto.ed25519_public_key_from_pem(private_pem)


@needs_openssl
@pytest.mark.parametrize(
    ("genpkey_args", "why"),
    [
        (("-algorithm", "ed448"), "Ed25519"),
        (("-algorithm", "x25519"), "Ed25519"),
        (("-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"), "Ed25519"),
        (("-algorithm", "rsa", "-pkeyopt", "rsa_keygen_bits:1024"), "Ed25519"),
    ],
)
def test_a_public_key_of_another_algorithm_is_refused(genpkey_args, why: str) -> None:
    private_pem = openssl("genpkey", *genpkey_args)
    public_pem = openssl("pkey", "-pubout", stdin=private_pem).decode()

    with pytest.raises(crypto.InvalidKey, match=why) as refusal:
        crypto.ed25519_public_key_from_pem(public_pem)
    assert not isinstance(refusal.value, crypto.SecretKeyMaterial)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "not a PEM public key"),
        ("hello", "not a PEM public key"),
        ("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", "not a PEM public key"),
        (RFC8032_PUBLIC_PEM.replace("MCow", "MCox"), "not a PEM public key"),
        (RFC8032_PUBLIC_PEM + RFC8032_PUBLIC_PEM, "exactly one"),
        ("my key:\n" + RFC8032_PUBLIC_PEM, "only the public key"),
        (RFC8032_PUBLIC_PEM + "thanks", "only the public key"),
        (
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
            "OpenSSH",
        ),
        ("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", "certificate"),
        ("x" * 5000, "a few lines"),
    ],
)
def test_garbage_is_refused_with_a_message_that_says_what_to_paste(text: str, why: str) -> None:
    with pytest.raises(crypto.InvalidKey, match=why):
        crypto.ed25519_public_key_from_pem(text)


def test_an_age_identity_pasted_as_a_signing_key_is_refused_as_secret() -> None:
    with pytest.raises(crypto.SecretKeyMaterial):
        crypto.ed25519_public_key_from_pem(
            "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ"
        )


@needs_age
def test_a_recipient_from_age_keygen_is_accepted_and_matches_its_identity(tmp_path: Path) -> None:
    identity_file = tmp_path / "identity.txt"
    subprocess.run(["age-keygen", "-o", str(identity_file)], check=True, capture_output=True)
    recipient = subprocess.run(
        ["age-keygen", "-y", str(identity_file)], check=True, capture_output=True, text=True
    ).stdout.strip()
    identity = next(
        line for line in identity_file.read_text().splitlines() if line.startswith("AGE-SECRET")
    )

    assert crypto.age_recipient_normalise(f"  {recipient}\n") == recipient
    assert crypto.age_identity_recipient(identity) == recipient


@needs_age
def test_an_age_identity_is_refused_as_a_recipient(tmp_path: Path) -> None:
    identity_file = tmp_path / "identity.txt"
    subprocess.run(["age-keygen", "-o", str(identity_file)], check=True, capture_output=True)

    for pasted in (identity_file.read_text(), identity_file.read_text().lower()):
        with pytest.raises(crypto.SecretKeyMaterial, match="secret key"):
            crypto.age_recipient_normalise(pasted)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "age1",
        "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8q",  # bad checksum
        "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p extra",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
        "age1" + "q" * 120,
    ],
)
def test_a_malformed_recipient_is_refused(text: str) -> None:
    with pytest.raises(crypto.InvalidKey):
        crypto.age_recipient_normalise(text)


def test_the_example_recipient_of_the_age_documentation_is_valid() -> None:
    example = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
    assert crypto.age_recipient_normalise(example.upper()) == example


def test_a_malformed_identity_is_refused() -> None:
    with pytest.raises(crypto.InvalidKey):
        crypto.age_identity_recipient("AGE-SECRET-KEY-1NOTREALLY")


def test_strict_base64_refuses_anything_else() -> None:
    assert crypto.b64decode_strict(base64.b64encode(b"abc").decode()) == b"abc"
    with pytest.raises(ValueError, match="."):
        crypto.b64decode_strict("YWJj\n!")


def test_strict_base64_refuses_a_second_spelling_of_the_same_bytes() -> None:
    canonical = base64.b64encode(b"ab").decode()  # "YWI=": the last 2 bits are zero
    assert crypto.b64decode_strict(canonical) == b"ab"
    other = "YWJ="  # decodes to the same b"ab" with a padding bit set
    assert base64.b64decode(other, validate=True) == b"ab"
    with pytest.raises(ValueError, match="canonical"):
        crypto.b64decode_strict(other)
    with pytest.raises(ValueError, match="."):
        crypto.b64decode_strict("YWI")  # padding missing
