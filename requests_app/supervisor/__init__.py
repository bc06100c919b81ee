"""The agency supervisor's view of the agency's requests: every request with its state,
clocks and response metadata; the content only of those shared with the supervisor."""
