"""Phone numbers as the vetting pages show and store them (``phonenumbers``).

A number on file is stored in E.164 (``+4930123456``); people read it in international
format (``+49 30 123456``) and dial it from a ``tel:`` link (RFC 3966).
"""

import phonenumbers


class PhoneInvalid(ValueError):
    """Not a valid number in international form."""


def _parsed(value: str) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(value or "", None)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def e164(value: str) -> str:
    """Return ``value`` in E.164 form, or raise ``PhoneInvalid``."""
    number = _parsed(value)
    if number is None:
        raise PhoneInvalid(value)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def international(value: str) -> str:
    """``+4930123456`` as ``+49 30 123456``; anything that does not parse, as it is."""
    number = _parsed(value)
    if number is None:
        return value
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def tel_uri(value: str) -> str:
    """The RFC 3966 ``tel:`` URI of a number, or "" when it does not parse."""
    number = _parsed(value)
    if number is None:
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.RFC3966)
