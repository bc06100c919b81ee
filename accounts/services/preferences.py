"""Changing a user's language and time zone (both optional; audited)."""

from django.db import transaction

from portal.audit import audit_append

from ..models import User
from ..preferences import language_valid, zone_valid


class PreferenceRefused(Exception):
    """A language or zone the portal does not know."""


def preferences_update(*, user: User, language: str, time_zone: str) -> User:
    """Save ``language`` and ``time_zone`` ("" for each: the default) and audit a change."""
    if language and not language_valid(language):
        raise PreferenceRefused("unknown language")
    if time_zone and not zone_valid(time_zone):
        raise PreferenceRefused("unknown time zone")
    before = {"language": user.language, "time_zone": user.time_zone}
    after = {"language": language, "time_zone": time_zone}
    if before == after:
        return user
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(**after)
        user.language, user.time_zone = language, time_zone
        audit_append(
            actor=user,
            action="user.preferences_changed",
            target=user,
            data={"before": before, "after": after},
        )
    return user
