"""Facts of law that set a request's clocks: which states are bound by which instrument."""

EU_MEMBER_STATES = [
    "AT",
    "BE",
    "BG",
    "HR",
    "CY",
    "CZ",
    "DK",
    "EE",
    "FI",
    "FR",
    "DE",
    "GR",
    "HU",
    "IE",
    "IT",
    "LV",
    "LT",
    "LU",
    "MT",
    "NL",
    "PL",
    "PT",
    "RO",
    "SK",
    "SI",
    "ES",
    "SE",
]

# The member states bound by the e-Evidence Regulation (EU) 2023/1543, which creates the
# European Production and Preservation Orders. Denmark takes no part in it (recital 94,
# Protocol No 22); Ireland opted in (recital 93).
EVIDENCE_REGULATION_STATES = [c for c in EU_MEMBER_STATES if c != "DK"]


def bound_by_evidence_regulation(country: object) -> bool:
    """Whether the country's orders follow Regulation (EU) 2023/1543 (EPOC, EPOC-PR)."""
    return str(country) in EVIDENCE_REGULATION_STATES
