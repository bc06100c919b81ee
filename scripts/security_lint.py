#!/usr/bin/env python3
"""The portal's own security rules, checked on its source: what ruff's bandit rules can't know.

Each rule guards a decision of docs/THREAT-MODEL.md that a line of code could quietly undo:

  request-gate           a LegalRequest is reached only through the access selectors
  sealed-response-gate   a SealedResponse likewise (requests_app/delivery/selectors.py)
  mark-safe              no mark_safe / SafeString: templates escape everything
  csrf-exempt            no csrf_exempt: the API is exempt by token, pages are not
  unsafe-code            no eval / exec / pickle / marshal / yaml.load / shell=True
  sql-formatting         no SQL text built with f-strings, % or .format, or +
  noqa-reason            every "noqa: S..." says why, on its line or the line above
  template-safe          no |safe and no {% autoescape off %} in templates
  template-csp           no style= or <style>, no on...= handlers or javascript: URLs,
                         and no inline <script> (the CSP allows script files of the
                         portal's own origin only: no nonce, no inline code)

A place where a rule does not apply is named in ALLOWED with the reason; an entry that
no longer matches anything is reported too, so the list stays true.

    python scripts/security_lint.py        # exit 1 and one line per finding

tests/security/test_code_rules.py runs it on the tree and proves each rule on a planted
violation.
"""

import ast
import io
import re
import sys
import tokenize
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The code that ships: tests and benchmarks are out of scope (ruff still checks them).
PYTHON_ROOTS = ["portal", "accounts", "requests_app", "scripts", "manage.py"]
TEMPLATE_ROOTS = ["templates", "portal", "accounts", "requests_app"]
SKIPPED_PARTS = {"migrations", "__pycache__", "node_modules", "static"}

# rule -> {place: reason}. A place is "path" (the whole file), "path::Qualified.name" (one
# function or class) or, for templates, "path".
ALLOWED: dict[str, dict[str, str]] = {
    "request-gate": {
        "requests_app/lifecycle/access.py": "the officers' gate itself",
        "requests_app/review/selectors.py": "the reviewers' gate itself",
        "requests_app/supervisor/selectors.py": "the agency supervisors' gate itself",
        "requests_app/intake/pipeline.py": "intake creates requests and finds a retry's",
        "requests_app/review/services.py": "locks a request its caller reached through a gate",
        "requests_app/officer/sharing.py": "locks a request its caller reached through a gate",
        "requests_app/lifecycle/clocks.py": "deadline and preservation clocks: system tasks",
        "requests_app/review/notices.py": "the user-notice task: a system task, no caller",
        "requests_app/review/escalation.py": (
            "the escalation task (a system task, no caller) and the reviewers' home notice "
            "(references of unclaimed emergencies, for a reviewer only)"
        ),
        "requests_app/delivery/sealing.py": "the sealing task locks the request it seals",
        "requests_app/demo.py": "demo data for make run",
        "requests_app/transparency/demo.py": "demo data for the transparency report",
        "requests_app/transparency/selectors.py": "counts for the public report, no rows out",
        "requests_app/transparency/figures.py": "counts for the public report, no rows out",
        "requests_app/transparency/rollups.py": (
            "folds requests into the report's rollups: counts only, no rows out"
        ),
    },
    "sealed-response-gate": {
        "requests_app/delivery/selectors.py": "the gate itself",
        "requests_app/supervisor/selectors.py": (
            "the supervisors' gate: only responses sealed to their own recipients"
        ),
        "requests_app/delivery/services.py": "locks a response its caller reached through the gate",
        "requests_app/delivery/sealing.py": "the sealing task creates and finds responses",
        "requests_app/delivery/tasks.py": "the purge task: a system task, no caller",
        "requests_app/demo.py": "demo data for make run: finds the demo officer's answer",
    },
    "mark-safe": {
        "requests_app/review/views_queue.py::QuickSelect.render": (
            "every value is escaped with html.escape before it is joined (a widget "
            "rendered in one pass for speed)"
        ),
        "requests_app/review/queue_table.py::queue_rows_html": (
            "the queue's fifty rows written in one pass for speed: every value is escaped "
            "with html.escape (quotes included) before it is joined; the deadline and the "
            "badges are the escaped output of the {% deadline %} and {% clock_badge %} "
            "tags' own functions "
            "(tests/requests_app/review/test_queue.py tries markup in an agency's name)"
        ),
    },
    "csrf-exempt": {
        "requests_app/intake/web/views.py::submission_submit": (
            "the CSRF token is checked in _submit once the body is known to be within "
            "the size limit"
        ),
        "requests_app/officer/views.py::request_reply_signed": (
            "the CSRF token is checked in _reply_signed once the body is known to be within "
            "the size limit"
        ),
    },
    "sql-formatting": {
        "requests_app/transparency/rollups.py": (
            "statements over the rollup tables: only table and column names from the models' "
            "metadata and SQL that Django compiled are formatted in; every value is a parameter"
        ),
        "requests_app/intake/pipeline.py::_receipt_naming_its_event": (
            "formats in only portal.audit's fixed SQL that takes the events' next number; "
            "the receipt and the path are parameters"
        ),
        "requests_app/transparency/figures.py::_per_country_and_all": (
            "fills a fixed template with SQL that Django compiled, whose parameters are "
            "passed as parameters; no user text"
        ),
    },
    "template-safe": {
        "templates/accounts/totp_enrol.html": (
            "qr_svg is the SVG that qrcode draws (path data only, no text of the user's)"
        ),
        "templates/accounts/email/mailbox_link.txt": "a text/plain email body, never HTML",
        "templates/accounts/email/registration_repeated.txt": "a text/plain email body, never HTML",
        "templates/accounts/email/password_reset_link.txt": "a text/plain email body, never HTML",
        "templates/accounts/email/password_changed.txt": "a text/plain email body, never HTML",
        "templates/accounts/email/password_reset_done.txt": "a text/plain email body, never HTML",
        "templates/accounts/email/factor_changed.txt": "a text/plain email body, never HTML",
        "templates/accounts/email/api_token_created.txt": "a text/plain email body, never HTML",
    },
}


@dataclass(frozen=True, order=True)
class Finding:
    path: str
    line: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.rule}: {self.message}"


def _allowed(rule: str, path: str, where: str, used: set[tuple[str, str]]) -> bool:
    places = ALLOWED.get(rule, {})
    for place in (f"{path}::{where}", path):
        if place in places:
            used.add((rule, place))
            return True
    return False


# --- Python -----------------------------------------------------------------------------------

GATED_MODELS = {"LegalRequest": "request-gate", "SealedResponse": "sealed-response-gate"}
MANAGERS = {"objects", "_default_manager", "_base_manager"}
SHORTCUTS = {"get_object_or_404", "get_list_or_404"}
UNSAFE_CALLS = {
    "eval": "eval runs text as code",
    "exec": "exec runs text as code",
    "pickle": "unpickling runs code chosen by whoever wrote the bytes",
    "cPickle": "unpickling runs code chosen by whoever wrote the bytes",
    "marshal": "marshal is not safe against crafted input",
    "shelve": "shelve unpickles",
    "os.system": "a shell command",
    "os.popen": "a shell command",
    "yaml.load": "yaml.load builds arbitrary objects; use yaml.safe_load",
    "yaml.unsafe_load": "yaml.unsafe_load builds arbitrary objects; use yaml.safe_load",
    "yaml.full_load": "yaml.full_load builds Python objects; use yaml.safe_load",
}
SQL_CALLS = {"execute", "executemany", "raw", "extra", "RawSQL"}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else ""
    return ""


def _is_text(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str)
    )


def _is_formatted_text(node: ast.AST) -> bool:
    """Text built at run time from pieces: an f-string with fields, % or + or .format."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(part, ast.FormattedValue) for part in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return _is_text(node.left)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        sides = (node.left, node.right)
        pieces = any(_is_text(side) or _is_formatted_text(side) for side in sides)
        return pieces and not all(isinstance(side, ast.Constant) for side in sides)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr == "format"  # a template's .format(), whatever holds it
    return False


class _PythonRules(ast.NodeVisitor):
    def __init__(self, path: str) -> None:
        self.path = path
        self.scope: list[str] = []
        self.formatted_names: list[set[str]] = [set()]
        self.found: list[tuple[str, int, str, str]] = []  # rule, line, where, message

    @property
    def where(self) -> str:
        return ".".join(self.scope) or "<module>"

    def _report(self, rule: str, node: ast.AST, message: str) -> None:
        self.found.append((rule, getattr(node, "lineno", 0), self.where, message))

    def _enter(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.scope.append(node.name)  # a decorator counts as part of what it decorates
        self.formatted_names.append(set())
        for decorator in node.decorator_list:
            self.visit(decorator)
        for child in node.body:
            self.visit(child)
        self.formatted_names.pop()
        self.scope.pop()

    visit_FunctionDef = _enter
    visit_AsyncFunctionDef = _enter
    visit_ClassDef = _enter

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            root = alias.name.split(".")[0]
            if root in UNSAFE_CALLS:
                self._report("unsafe-code", node, f"import {alias.name}: {UNSAFE_CALLS[root]}")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = (node.module or "").split(".")[0]
        if module in UNSAFE_CALLS:
            self._report("unsafe-code", node, f"from {node.module} import: {UNSAFE_CALLS[module]}")

    def visit_Assign(self, node: ast.Assign) -> None:
        if _is_formatted_text(node.value) or (
            isinstance(node.value, ast.Name) and node.value.id in self.formatted_names[-1]
        ):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.formatted_names[-1].add(target.id)
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if (
            isinstance(node.value, ast.Name)
            and node.value.id in GATED_MODELS
            and node.attr in MANAGERS
        ):
            self._report(
                GATED_MODELS[node.value.id],
                node,
                f"{node.value.id}.{node.attr} outside the access selectors",
            )
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id == "csrf_exempt":
            self._report("csrf-exempt", node, "csrf_exempt on a page")

    def visit_Call(self, node: ast.Call) -> None:
        name = _dotted(node.func)
        last = name.rsplit(".", 1)[-1]
        if last in SHORTCUTS and node.args:
            model = _dotted(node.args[0])
            if model in GATED_MODELS:
                self._report(GATED_MODELS[model], node, f"{last}({model}) outside the selectors")
        if last in {"mark_safe", "SafeString", "SafeText"}:
            self._report("mark-safe", node, f"{last}() turns off escaping")
        if name in UNSAFE_CALLS or name.split(".")[0] in {"pickle", "cPickle", "marshal"}:
            reason = UNSAFE_CALLS.get(name) or UNSAFE_CALLS[name.split(".")[0]]
            if not (name == "yaml.load" and _has_safe_loader(node)):
                self._report("unsafe-code", node, f"{name}(): {reason}")
        if any(k.arg == "shell" and _is_true(k.value) for k in node.keywords):
            self._report("unsafe-code", node, f"{name}(shell=True): a shell command")
        if last in SQL_CALLS:
            pieces = [*node.args[:1], *(k.value for k in node.keywords if last == "extra")]
            if any(self._is_built_sql(piece) for piece in pieces):
                self._report("sql-formatting", node, f"{last}() with SQL built from text")
        self.generic_visit(node)

    def _is_built_sql(self, node: ast.AST) -> bool:
        if isinstance(node, ast.List | ast.Tuple):
            return any(self._is_built_sql(item) for item in node.elts)
        if isinstance(node, ast.Dict):
            return any(self._is_built_sql(value) for value in node.values)
        if isinstance(node, ast.Name):
            return node.id in self.formatted_names[-1]
        return _is_formatted_text(node)


def _is_true(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _has_safe_loader(node: ast.Call) -> bool:
    return any(
        k.arg == "Loader" and _dotted(k.value).endswith(("SafeLoader", "CSafeLoader"))
        for k in node.keywords
    )


NOQA = re.compile(
    r"#(?P<before>.*?)\bnoqa:\s*(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*)(?P<after>.*)$"
)
NOT_A_REASON = re.compile(r"[\s()\-:#,.]+|ruff")


def _noqa_findings(path: str, source: str) -> Iterator[tuple[str, int, str, str]]:
    """A "noqa: S..." must say why: in its own comment, or in a comment on the line above."""
    lines = source.splitlines()
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return
    for token in tokens:
        match = NOQA.search(token.string) if token.type == tokenize.COMMENT else None
        if match is None:
            continue
        codes = re.split(r"[,\s]+", match.group("codes").strip())
        security = [code for code in codes if code.startswith("S")]
        if not security:
            continue
        reason = NOT_A_REASON.sub("", match.group("before") + match.group("after"))
        line = token.start[0]
        above = lines[line - 2].strip() if line >= 2 else ""
        if not reason and not above.startswith("#"):
            yield "noqa-reason", line, "", f"noqa: {', '.join(security)} without a reason"


def check_python(path: str, source: str, used: set[tuple[str, str]] | None = None) -> list[Finding]:
    """The findings of the Python rules in one file (``path`` as shown, from the root)."""
    used = set() if used is None else used
    tree = ast.parse(source, filename=path)
    rules = _PythonRules(path)
    rules.visit(tree)
    found = []
    for rule, line, where, message in [*rules.found, *_noqa_findings(path, source)]:
        if not _allowed(rule, path, where, used):
            found.append(Finding(path, line, rule, message))
    return found


# --- Templates ----------------------------------------------------------------------------------

TEMPLATE_PATTERNS = [
    ("template-safe", re.compile(r"\|\s*safe(seq)?\b"), "|safe turns off escaping"),
    ("template-safe", re.compile(r"{%-?\s*autoescape\s+off\b"), "autoescape off"),
    ("template-csp", re.compile(r"<[a-zA-Z][^>]*\sstyle\s*=", re.S), "a style= attribute"),
    ("template-csp", re.compile(r"<style\b", re.I), "a <style> element"),
    ("template-csp", re.compile(r"<[a-zA-Z][^>]*\son[a-z]+\s*=", re.S), "an inline handler"),
    (
        "template-csp",
        re.compile(r"\s(?:href|src|action|formaction)\s*=\s*[\"']?\s*javascript:", re.I),
        "a javascript: URL",
    ),
]
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.I | re.S)
TEMPLATE_COMMENT = re.compile(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}|{#.*?#}", re.S)


def check_template(path: str, text: str, used: set[tuple[str, str]] | None = None) -> list[Finding]:
    """The findings of the template rules in one template."""
    used = set() if used is None else used
    # Comments are blanked (not removed) so that line numbers stay right.
    text = TEMPLATE_COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    found = []
    hits = [
        (rule, match.start(), message)
        for rule, pattern, message in TEMPLATE_PATTERNS
        for match in pattern.finditer(text)
    ]
    for match in SCRIPT_TAG.finditer(text):
        attributes = match.group(1)
        if not re.search(r"\ssrc\s*=", attributes):
            hits.append(("template-csp", match.start(), "an inline <script>"))
    for rule, offset, message in hits:
        if not _allowed(rule, path, "", used):
            found.append(Finding(path, text.count("\n", 0, offset) + 1, rule, message))
    return found


# --- The tree -----------------------------------------------------------------------------------


def _files(roots: Iterable[str], suffixes: tuple[str, ...], root: Path) -> Iterator[Path]:
    for name in roots:
        start = root / name
        candidates = [start] if start.is_file() else sorted(start.rglob("*"))
        for path in candidates:
            relative = path.relative_to(root)
            if (
                path.is_file()
                and path.suffix in suffixes
                and not SKIPPED_PARTS & set(relative.parts)
            ):
                yield path


def check_tree(root: Path = ROOT) -> tuple[list[Finding], list[str]]:
    """Every finding in the shipped code and templates, and the allow-list entries unused."""
    used: set[tuple[str, str]] = set()
    found: list[Finding] = []
    for path in _files(PYTHON_ROOTS, (".py",), root):
        label = path.relative_to(root).as_posix()
        found += check_python(label, path.read_text(encoding="utf-8"), used)
    seen: set[Path] = set()
    for path in _files(TEMPLATE_ROOTS, (".html", ".txt", ".xml"), root):
        if "templates" in path.relative_to(root).parts and path not in seen:
            seen.add(path)
            label = path.relative_to(root).as_posix()
            found += check_template(label, path.read_text(encoding="utf-8"), used)
    unused = [
        f"{rule}: {place}"
        for rule, places in ALLOWED.items()
        for place in places
        if (rule, place) not in used
    ]
    return sorted(found), unused


def main() -> int:
    found, unused = check_tree()
    for finding in found:
        print(finding)
    for entry in unused:
        print(f"scripts/security_lint.py: allow-list entry matches nothing any more: {entry}")
    if found or unused:
        print(f"{len(found)} finding(s), {len(unused)} stale allow-list entr(y/ies).")
        return 1
    print("security_lint: no findings.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
