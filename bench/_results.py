"""Replace one benchmark's section of bench/RESULTS.md and leave the others alone.

A section sits between ``<!-- bench/<script>: begin -->`` and ``<!-- bench/<script>: end -->``
(the markers the other scripts use too); a script whose section is missing appends it.
"""

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def markers(script: str) -> tuple[str, str]:
    """The begin and end markers of ``script``'s section (``script`` as in ``load.py``)."""
    return f"<!-- bench/{script}: begin -->", f"<!-- bench/{script}: end -->"


def section_write(script: str, markdown: str, results: Path = RESULTS) -> None:
    """Put ``markdown`` between ``script``'s markers, in place, or at the end of the file."""
    begin, end = markers(script)
    section = f"{begin}\n{markdown.rstrip()}\n{end}\n"
    text = results.read_text(encoding="utf-8") if results.exists() else "# Benchmark results\n"
    if begin in text and end in text.split(begin, 1)[1]:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1].lstrip("\n")
        text = head + section + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    results.write_text(text, encoding="utf-8")
