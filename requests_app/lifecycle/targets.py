"""What each target type's value must look like (PROTOCOL §2.2), in one place for both
intake channels and for the reviewers' search.

The API takes a signed payload, which the portal cannot rewrite: a value must arrive in
its one written form (a phone number in E.164, an IP address as RFC 5952 writes it), and
anything else is ``malformed`` with a sentence that says how to write it. The web form
takes what an officer types, writes it in that form (``target_value_normalise``: a
national phone number is read for the agency's country), and shows the result in the
preview before anything is signed. Both refuse a value with the same words.

The queue's search (``target_search_normalise``) writes what a reviewer pastes in the
same form, so that it finds what intake stored: a value is recognised by its shape
rather than by a type, so that one search box takes a number or an address.
"""

import ipaddress
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.utils.translation import gettext as _

from requests_app.lifecycle.models import TargetType


class TargetValueError(ValueError):
    """A value that is not one of its type: ``message`` says how to write it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _phone_refused() -> TargetValueError:
    return TargetValueError(
        _("Not a valid phone number: write it with its country code, e.g. +49 30 1234567.")
    )


def _email_refused() -> TargetValueError:
    return TargetValueError(_("Not a valid email address, such as name@example.org."))


def _ip_refused() -> TargetValueError:
    return TargetValueError(_("Not an IPv4 or IPv6 address, such as 203.0.113.7 or 2001:db8::7."))


def _url_refused() -> TargetValueError:
    hosts = settings.PLATFORM_URL_HOSTS
    return TargetValueError(
        _(
            "Not an address on the platform: give an https:// address on %(hosts)s, "
            "such as https://%(host)s/u/username."
        )
        % {"hosts": ", ".join(hosts), "host": hosts[0] if hosts else "platform.example"}
    )


def _phone(value: str, region: str | None) -> str:
    """The E.164 form of a valid number; ``region`` reads one written without a country code."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise _phone_refused() from None
    if not phonenumbers.is_valid_number(number):
        raise _phone_refused()
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# Django's validator, without its allowance for "localhost": an address on the internet.
_validate_email = EmailValidator(allowlist=[])


def _email(value: str) -> str:
    try:
        _validate_email(value)
    except ValidationError:
        raise _email_refused() from None
    local, _at, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


def _ip(value: str) -> str:
    if "%" in value:  # a zone id names an interface of the sender's machine, not an address
        raise _ip_refused()
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise _ip_refused() from None


def _url(value: str) -> str:
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise _url_refused()
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise _url_refused() from None
    host = (parts.hostname or "").lower()
    if (
        parts.scheme.lower() != "https"
        or host not in settings.PLATFORM_URL_HOSTS
        or parts.username is not None
        or parts.password is not None
        or port not in (None, 443)
        or parts.path in ("", "/")
    ):
        raise _url_refused()
    return value


def target_value_check(target_type: str, value: str) -> None:
    """Refuse a value that is not its type's written form on the wire (the API's rule).

    Raises ``TargetValueError``. Usernames, user ids and channels are the platform's own
    names: any text will do.
    """
    if target_type == TargetType.PHONE:
        number = _phone(value, None)
        if number != value:
            raise TargetValueError(
                _("Write the phone number in E.164 form: %(number)s.") % {"number": number}
            )
    elif target_type == TargetType.EMAIL:
        _email(value)
    elif target_type == TargetType.IP_ADDRESS:
        canonical = _ip(value)
        if canonical != value:
            raise TargetValueError(
                _("Write the IP address as %(address)s.") % {"address": canonical}
            )
    elif target_type == TargetType.URL:
        _url(value)


def target_value_normalise(target_type: str, value: str, *, region: str) -> str:
    """What an officer typed, in its type's written form; raises ``TargetValueError``.

    ``region`` is the agency's country (ISO 3166-1 alpha-2): a phone number written
    without a country code is read as one of that country.
    """
    value = value.strip()
    if target_type == TargetType.PHONE:
        return _phone(value, region or None)
    if target_type == TargetType.EMAIL:
        return _email(value)
    if target_type == TargetType.IP_ADDRESS:
        return _ip(value)
    if target_type == TargetType.URL:
        if "://" not in value and value.split("/", 1)[0].lower() in settings.PLATFORM_URL_HOSTS:
            value = f"https://{value}"
        return _url(value)
    return value


@dataclass(frozen=True)
class NormalisedTarget:
    kind: str  # "phone", "email" or "identifier": what the value was taken to be
    value: str


def target_search_normalise(value: str) -> NormalisedTarget:
    """A searched value in the form intake stores: a phone number (with ``+`` or ``00``)
    in E.164, an email address in lower case, any other identifier as given (trimmed).

    Intake keeps an email address's local part as the authority wrote it (``_email``
    lowers only the domain), so the queue matches an ``email`` value case-insensitively
    (``review.selectors``), and the audit's digest of a search is the same whatever the
    case the reviewer typed."""
    text = value.strip()
    if "@" in text:
        return NormalisedTarget("email", text.lower())
    if text.startswith(("+", "00")):
        try:
            number = _phone("+" + text[2:] if text.startswith("00") else text, None)
        except TargetValueError:
            pass
        else:
            return NormalisedTarget("phone", number)
    return NormalisedTarget("identifier", text)


def window_message(*, target_type: str, window: tuple[datetime, datetime] | None) -> str | None:
    """Why a target's time window does not fit its type, or ``None``."""
    if target_type == TargetType.IP_ADDRESS:
        if window is None:
            return _("An IP address needs the time window in which it was used (UTC).")
        if window[0] > window[1]:
            return window_order_message()
    elif window is not None:
        return _("Only an IP address target has a time window.")
    return None


def window_order_message() -> str:
    return _("The time window ends before it starts.")


def window_outside_period() -> str:
    return _("The time window lies outside the period of the request.")
