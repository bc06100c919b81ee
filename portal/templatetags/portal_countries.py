"""A country's name in the reader's language: ``{{ agency.country|country_name }}``.

django-countries' ``Country.name`` translates its whole list of countries to find one
name; a page of rows (the vetting queue, the policy tables, the certificate statements,
the legal-basis help) names dozens. ``portal.countries.country_name`` keeps each name per
code and language, and the review queue's rows already use it.
"""

from typing import Any

from django import template

from portal.countries import country_name as name_of

register = template.Library()


@register.filter
def country_name(country: Any) -> str:
    """The name of a country (a model's ``Country`` or a code); ``""`` for none."""
    return name_of(country) if country else ""
