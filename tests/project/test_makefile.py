"""`make bench` runs every benchmark under bench/ (the helpers, named _*.py, excepted)."""

import re

from tests.conftest import ROOT


def test_make_bench_runs_every_benchmark():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\nbench:", 1)[1].split("\n\n", 1)[0]
    run = set(re.findall(r"bench/(\w+)\.py", recipe))
    scripts = {
        path.stem
        for path in (ROOT / "bench").glob("*.py")
        if not path.stem.startswith("_") and path.stem not in {"settings", "urls", "bare"}
    }
    assert scripts - run == set()
