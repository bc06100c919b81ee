"""One way to write a target's value, so that a search finds what intake stored.

Phone numbers are kept in E.164 (``+4930123456``), email addresses in lower case, every
other identifier as given (trimmed): a username or a user id is matched exactly. A value
is recognised by its shape rather than by the target's type, so that a reviewer can
paste a number or an address into one search box.
"""

from dataclasses import dataclass

import phonenumbers


@dataclass(frozen=True)
class NormalisedTarget:
    kind: str  # "phone", "email" or "identifier": what the value was taken to be
    value: str


def target_value_normalise(value: str) -> NormalisedTarget:
    """The stored form of a target value: E.164, a lower-cased address, or the value."""
    text = value.strip()
    if "@" in text:
        return NormalisedTarget("email", text.lower())
    if text.startswith(("+", "00")):
        try:
            number = phonenumbers.parse("+" + text[2:] if text.startswith("00") else text, None)
        except phonenumbers.NumberParseException:
            number = None
        if number is not None and phonenumbers.is_possible_number(number):
            return NormalisedTarget(
                "phone", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            )
    return NormalisedTarget("identifier", text)
