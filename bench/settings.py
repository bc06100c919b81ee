"""Settings for ``bench/intake.py``: the portal's own, with the bare endpoints' URLs added.

Only the benchmark uses this module; the portal never imports anything under ``bench/``.
"""

from portal.settings import *  # noqa: F403  (the real settings, unchanged)
from portal.settings import env

ROOT_URLCONF = "bench.urls"

# The officer in whose name the bare endpoints insert (they authenticate no one).
BENCH_OFFICER_ID = env.int("BENCH_OFFICER_ID", default=0)
