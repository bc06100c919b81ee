"""Writes of the transparency report: publishing a period, and the reviewer teams.

Each is one transaction that writes its audit event; only vetting administrators may
make them. A publication counts the figures afresh (never from a cache), inside the
transaction that stores them, and refuses to store numbers other than those the
administrator looked at.
"""

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role, User
from portal.audit import audit_append
from requests_app.transparency.cache import generation_bump
from requests_app.transparency.figures import period_figures
from requests_app.transparency.models import ReviewTeam, ReviewTeamMember, Snapshot
from requests_app.transparency.periods import Period
from requests_app.transparency.report import changed_areas, document_sha256, public_document

REASON_MAX_LENGTH = 1000
TEAM_NAME_MAX_LENGTH = 80


class TransparencyRefused(Exception):
    """A change the rules do not allow; the message says why, for the page."""


def _require_vetting_admin(user: User) -> None:
    if not user.is_active or user.role != Role.VETTING_ADMIN:
        raise TransparencyRefused(_("Only a vetting administrator of the platform may do this."))


def figures_fingerprint(document: dict[str, Any]) -> str:
    """The SHA-256 of a document's figures, leaving out when they were counted.

    What an administrator approves on the confirmation page: if a figure changes before
    they press Publish, the fingerprint does too and the publication is refused.
    """
    return document_sha256({k: v for k, v in document.items() if k != "as_of"})


def current_snapshot(period_key: str) -> Snapshot | None:
    """The newest version of a period (the one nothing supersedes), if published."""
    return Snapshot.objects.filter(period_key=period_key, superseded_by__isnull=True).first()


def snapshot_publish(
    *,
    actor: User,
    period: Period,
    reason: str = "",
    expected_fingerprint: str | None = None,
    now: datetime | None = None,
) -> Snapshot:
    """Freeze a period's figures as a new snapshot; a second one is a correction.

    A correction needs a reason and must change at least one figure. The figures are
    counted now, in this transaction; ``expected_fingerprint`` (from the confirmation
    page) refuses them if they are not what the administrator saw.
    """
    _require_vetting_admin(actor)
    now = now or timezone.now()
    reason = reason.strip()
    if not period.publishable:
        raise TransparencyRefused(_("Only a quarter or a whole year is published."))
    if not period.has_ended(now):
        raise TransparencyRefused(
            _("%(period)s has not ended yet: publish it once its last day is over.")
            % {"period": period.label}
        )
    if len(reason) > REASON_MAX_LENGTH:
        raise TransparencyRefused(
            _("Say why in at most %(max)d characters.") % {"max": REASON_MAX_LENGTH}
        )
    try:
        with transaction.atomic():
            before = (
                Snapshot.objects.select_for_update(of=("self",))
                .filter(period_key=period.key, superseded_by__isnull=True)
                .first()
            )
            if before is not None and not reason:
                raise TransparencyRefused(
                    _(
                        "%(period)s is already published: a correction needs a reason, "
                        "which the public page shows."
                    )
                    % {"period": period.label}
                )
            document = public_document(period_figures(period=period, as_of=now))
            fingerprint = figures_fingerprint(document)
            if expected_fingerprint is not None and fingerprint != expected_fingerprint:
                raise TransparencyRefused(
                    _(
                        "The figures changed since you looked at them (a request was received "
                        "or decided meanwhile). Look at them again before publishing."
                    )
                )
            changed = changed_areas(before.document, document) if before is not None else []
            if before is not None and not changed:
                raise TransparencyRefused(
                    _(
                        "Not one figure differs from the published version: there is nothing "
                        "to correct."
                    )
                )
            snapshot = Snapshot.objects.create(
                period_key=period.key,
                period_kind=period.kind,
                first_day=period.first_day,
                last_day=period.last_day,
                document=document,
                document_sha256=document_sha256(document),
                published_by=actor,
                published_at=now,
                supersedes=before,
                correction_reason=reason if before is not None else "",
            )
            audit_append(
                actor=actor,
                action=(
                    "transparency.snapshot_corrected"
                    if before is not None
                    else "transparency.snapshot_published"
                ),
                target=snapshot,
                data={
                    "period": period.key,
                    "snapshot_id": snapshot.pk,
                    "supersedes": before.pk if before is not None else None,
                    "document_sha256": snapshot.document_sha256,
                    "reason": snapshot.correction_reason,
                    "changed_areas": changed,
                    "before": before.document["world"] if before is not None else None,
                    "after": document["world"],
                },
            )
            transaction.on_commit(generation_bump)
    except IntegrityError:
        # Another administrator published this period in the same moment.
        raise TransparencyRefused(
            _(
                "%(period)s was published by someone else at the same time. Reload and "
                "look at the published figures."
            )
            % {"period": period.label}
        ) from None
    return snapshot


# --- Reviewer teams -----------------------------------------------------------------------


def review_team_create(*, actor: User, name: str) -> ReviewTeam:
    """Create a team (names are unique, compared without regard to case)."""
    _require_vetting_admin(actor)
    name = " ".join(name.split())
    if not name:
        raise TransparencyRefused(_("Give the team a name."))
    if len(name) > TEAM_NAME_MAX_LENGTH:
        raise TransparencyRefused(
            _("A team's name has at most %(max)d characters.") % {"max": TEAM_NAME_MAX_LENGTH}
        )
    with transaction.atomic():
        if ReviewTeam.objects.filter(name__iexact=name).exists():
            raise TransparencyRefused(
                _("There is already a team called “%(name)s”.") % {"name": name}
            )
        team = ReviewTeam.objects.create(name=name)
        audit_append(
            actor=actor, action="review_team.created", target=team, data={"name": team.name}
        )
    return team


def review_team_member_add(*, actor: User, team: ReviewTeam, reviewer: User) -> ReviewTeamMember:
    """Put a reviewer in a team; one in another team moves."""
    _require_vetting_admin(actor)
    if reviewer.role != Role.REVIEWER:
        raise TransparencyRefused(_("Only reviewers belong to review teams."))
    with transaction.atomic():
        existing = ReviewTeamMember.objects.select_for_update().filter(user=reviewer).first()
        before = existing.team_id if existing is not None else None
        if before == team.pk:
            raise TransparencyRefused(
                _("%(name)s is already in %(team)s.")
                % {"name": reviewer.full_name, "team": team.name}
            )
        if existing is not None:
            existing.delete()
        member = ReviewTeamMember.objects.create(team=team, user=reviewer)
        audit_append(
            actor=actor,
            action="review_team.member_added",
            target=team,
            data={"reviewer": reviewer.email, "before": before, "after": team.pk},
        )
    return member


def review_team_member_remove(*, actor: User, reviewer: User) -> None:
    """Take a reviewer out of their team."""
    _require_vetting_admin(actor)
    with transaction.atomic():
        member = (
            ReviewTeamMember.objects.select_for_update()
            .select_related("team")
            .filter(user=reviewer)
            .first()
        )
        if member is None:
            raise TransparencyRefused(_("%(name)s is in no team.") % {"name": reviewer.full_name})
        team = member.team
        member.delete()
        audit_append(
            actor=actor,
            action="review_team.member_removed",
            target=team,
            data={"reviewer": reviewer.email, "before": team.pk, "after": None},
        )


def review_team_delete(*, actor: User, team: ReviewTeam) -> None:
    """Delete a team that has no member left."""
    _require_vetting_admin(actor)
    with transaction.atomic():
        locked = ReviewTeam.objects.select_for_update().get(pk=team.pk)
        if locked.members.exists():
            raise TransparencyRefused(_("Move or remove the team's members first."))
        audit_append(
            actor=actor,
            action="review_team.deleted",
            target=locked,
            data={"name": locked.name},
        )
        locked.delete()
