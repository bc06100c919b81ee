"""Fail when any module of the project imports itself back through other modules.

import-linter's contracts (`.importlinter`) keep the layers running one way; this check
covers what they do not: a circle inside one layer or one package. It reads the import
graph with grimp (import-linter's own graph library), counting every import, inside
functions too, except those made only for type annotations (`if TYPE_CHECKING:`), and
prints each circle as its strongly connected set of modules.

    python scripts/import_cycles.py [PACKAGE ...]   (default: the project's four)
"""

import sys
from collections.abc import Iterable
from pathlib import Path

import grimp

PACKAGES = ("portal", "accounts", "requests_app", "project")


def import_cycles(packages: Iterable[str]) -> list[list[str]]:
    """Every set of two or more modules that import one another, in a stable order."""
    graph = grimp.build_graph(*packages, exclude_type_checking_imports=True)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        # Tarjan's algorithm, iteratively (a deep package would overflow recursion).
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return sorted(found)


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    cycles = import_cycles(argv or PACKAGES)
    for cycle in cycles:
        print("import circle: " + " <-> ".join(cycle))
    if cycles:
        print(f"{len(cycles)} import circle(s); break each (see scripts/import_cycles.py).")
        return 1
    print("no import circle")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
