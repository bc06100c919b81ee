"""The language switcher's choices: each language named in its own language.

Django's ``{% get_available_languages %}`` passes each name through gettext, which turns
"English" into "Anglais" on a French page; a switcher names each language as its readers
do (``settings.LANGUAGES``), whatever language the page is in.
"""

from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def languages_in_their_own_names() -> list[tuple[str, str]]:
    return [(code, str(name)) for code, name in settings.LANGUAGES]
