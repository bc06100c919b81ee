"""The explicit state machine of a legal request: one table, read by code and tests."""

from datetime import date, timedelta

from django.utils.translation import gettext

from requests_app.lifecycle.jurisdictions import bound_by_evidence_regulation
from requests_app.lifecycle.models import LegalRequest, ReviewState

S = LegalRequest.Status

# (state, action) -> next state. Anything not listed is refused.
TRANSITIONS: dict[tuple[str, str], str] = {
    (S.RECEIVED, "claim"): S.IN_REVIEW,
    (S.IN_REVIEW, "ask_clarification"): S.AWAITING_CLARIFICATION,
    (S.AWAITING_CLARIFICATION, "authority_replies"): S.IN_REVIEW,
    (S.AWAITING_CLARIFICATION, "resume"): S.IN_REVIEW,
    (S.IN_REVIEW, "confirm_approval"): S.APPROVED,
    (S.IN_REVIEW, "reject"): S.REJECTED,
    (S.APPROVED, "deliver"): S.DISCLOSED,
    (S.APPROVED, "close"): S.CLOSED,
    (S.REJECTED, "close"): S.CLOSED,
    (S.DISCLOSED, "close"): S.CLOSED,
    (S.RECEIVED, "withdraw"): S.WITHDRAWN,
    (S.IN_REVIEW, "withdraw"): S.WITHDRAWN,
    (S.AWAITING_CLARIFICATION, "withdraw"): S.WITHDRAWN,
}

OPEN_STATES = frozenset({S.RECEIVED, S.IN_REVIEW, S.AWAITING_CLARIFICATION})
FINAL_STATES = frozenset({S.CLOSED, S.WITHDRAWN})


class TransitionRefused(Exception):
    """The action is not allowed from the request's current state."""


def next_state(current: str, action: str) -> str:
    try:
        return TRANSITIONS[(current, action)]
    except KeyError:
        raise TransitionRefused(
            gettext("A request that is %(state)s cannot be changed by '%(action)s'.")
            % {"state": str(S(current).label).lower(), "action": action}
        ) from None


def allowed_actions(current: str) -> set[str]:
    return {action for (state, action) in TRANSITIONS if state == current}


# How long a preservation holds: 90 days (18 U.S.C. 2703(f)), 60 under Regulation (EU)
# 2023/1543, Art. 11, which allows one extension of 30 days.
PRESERVATION_DAYS = 90
EU_PRESERVATION_DAYS = 60
EU_PRESERVATION_EXTENSION_DAYS = 30


def review_state(request: LegalRequest) -> ReviewState:
    """The request's review row, created on first use with its preservation expiry."""
    state, created = ReviewState.objects.get_or_create(request=request)
    if created:
        changed = []
        if request.kind == "preservation":
            days = (
                EU_PRESERVATION_DAYS
                if bound_by_evidence_regulation(request.country)
                else PRESERVATION_DAYS
            )
            state.preservation_expires_at = request.received_at + timedelta(days=days)
            changed.append("preservation_expires_at")
        non_disclosure = (request.payload.get("request") or {}).get("non_disclosure")
        if non_disclosure:
            state.non_disclosure_until = date.fromisoformat(non_disclosure["until"])
            changed.append("non_disclosure_until")
        if changed:
            state.save(update_fields=changed)
    return state
