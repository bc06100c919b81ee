"""``{% load phones %}``: numbers in international format, with a ``tel:`` link to dial."""

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from accounts import phones

register = template.Library()


@register.filter
def phone(value: str) -> str:
    """``{{ number|phone }}``: the number in international format."""
    return phones.international(value or "")


@register.simple_tag
def phone_link(value: str) -> SafeString:
    """``{% phone_link number %}``: the number, as a link that dials it."""
    uri = phones.tel_uri(value or "")
    if not uri:
        return format_html('<span class="phone">{}</span>', value or "")
    return format_html('<a class="phone" href="{}">{}</a>', uri, phones.international(value))
