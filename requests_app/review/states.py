"""The explicit state machine of a legal request: one table, read by code and tests."""

from ..models import LegalRequest

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
            f"A request that is {S(current).label.lower()} cannot be changed by '{action}'."
        ) from None


def allowed_actions(current: str) -> set[str]:
    return {action for (state, action) in TRANSITIONS if state == current}
