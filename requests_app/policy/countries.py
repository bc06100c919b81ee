"""The country lists of the staff policy forms."""

from typing import Any

from portal.countries import countries_by_name


def country_choices(blank: Any) -> list[tuple[str, str]]:
    """``blank`` first, then every country named and sorted in the active language.

    Called when a form is built (a field's ``choices`` may be a callable), so that the names
    are those of the viewer's language, not of whatever was active at import.
    """
    return [("", str(blank)), *countries_by_name()]
