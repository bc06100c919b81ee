"""``{% load intake_rejections %}``: for the staff page of intake rejections, what a code
means and which language a refusal's detail was answered in, both for the page's reader.

The detail of a refusal is kept as the submitter read it (``IntakeRejection.language``);
an administrator reading another language is told which one it is.
"""

from django import template
from django.utils import translation

from requests_app.intake.staff_selectors import REJECTION_MEANINGS

register = template.Library()


@register.filter
def rejection_meaning(code: str) -> str:
    """``{{ code|rejection_meaning }}``: what the code means, in the reader's language; ""
    for a code the page does not explain."""
    meaning = REJECTION_MEANINGS.get(code)
    return "" if meaning is None else str(meaning)


@register.simple_tag
def language_if_foreign(code: str) -> str:
    """``{% language_if_foreign entry.language as name %}``: the language ``code`` names,
    named in the reader's language; "" when it is the reader's own or was not recorded."""
    if not code or code.lower() == (translation.get_language() or "").lower():
        return ""
    try:
        return str(translation.get_language_info(code)["name_translated"]).strip()
    except KeyError:  # not a language Django knows: its code is the best name there is
        return code
