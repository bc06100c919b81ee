"""Signals the portal's core sends for the layers above it to act on.

The core imports nothing above it (`.importlinter`): where it must tell a higher layer
something, it sends a signal that layer receives (connected in its AppConfig.ready).
"""

from django.dispatch import Signal

# A request body refused as too large before any view ran (portal.middleware). Sent with
# ``channel`` (the intake channel whose path it was), ``problem`` (a portal.problems
# Problem) and ``ip``; intake receives it to write the refusal into its rejection log.
request_body_refused = Signal()
