"""Every route name the portal uses exists in the project's URLconf (``project.urls``).

A name is used by a template (``{% url 'name' %}``), by code (``reverse``,
``reverse_lazy``, ``redirect``, ``resolve_url``, a ``url_name=``, the ``LOGIN_URL``
settings) or by a test. Each is reversed with made-up arguments of the right type and
resolved back to itself, so a page or an include dropped from ``project/urls.py`` fails
here, by name, rather than as a ``NoReverseMatch`` in whichever test renders that page.

The entry points the documentation promises (PROTOCOL, README, docs/) are also checked at
their documented addresses, and no test brings a URLconf of its own: every test runs on
the real one.
"""

import ast
import itertools
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.urls import NoReverseMatch, get_resolver, resolve, reverse
from django.urls.converters import (
    IntConverter,
    PathConverter,
    SlugConverter,
    StringConverter,
    UUIDConverter,
)

from tests.conftest import ROOT

CODE = ["portal", "accounts", "requests_app", "project", "tests"]
TEMPLATES = ["templates", "portal", "accounts", "requests_app", "project"]
THIS_FILE = Path(__file__).resolve()

# A value of the right shape for each path converter the URLconf uses.
CONVERTER_SAMPLES: dict[type, Any] = {
    IntConverter: 7,
    StringConverter: "LR-2026-000001",
    SlugConverter: "court_order",
    PathConverter: "some/path",
    UUIDConverter: uuid.UUID(int=7),
}
# Tried, in turn, for a group of a ``re_path`` (it has no converter to say its type).
REGEX_SAMPLES: list[Any] = [7, "2026-Q1", "2026", "LR-2026-000001", "x"]

# The public entry points the documentation promises, at the addresses it gives.
ENTRY_POINTS: dict[str, tuple[tuple[Any, ...], str]] = {
    # PROTOCOL §3-§6, docs/submitting-from-a-case-system.md, docs/receiving-a-response.md
    "api-submissions": ((), "/api/v1/submissions"),
    "api-submission": (("LR-2026-000001",), "/api/v1/submissions/LR-2026-000001"),
    "api-submission-messages": (
        ("LR-2026-000001",),
        "/api/v1/submissions/LR-2026-000001/messages",
    ),
    "api-submission-withdraw": (
        ("LR-2026-000001",),
        "/api/v1/submissions/LR-2026-000001/withdraw",
    ),
    "api-submission-responses": (
        ("LR-2026-000001",),
        "/api/v1/submissions/LR-2026-000001/responses",
    ),
    "api-response-download": ((7,), "/api/v1/responses/7/download"),
    "api-portal-key": ((), "/api/v1/portal-key"),
    "api-me": ((), "/api/v1/me"),
    "api-schema": ((), "/api/v1/schema"),
    "api-docs": ((), "/api/v1/docs"),
    "healthz": ((), "/healthz"),
    # README: the pages of each role
    "home": ((), "/"),
    "login": ((), "/login/"),
    "register": ((), "/register/"),
    "keys": ((), "/account/keys/"),
    "signing-key-add": ((), "/account/keys/signing/new/"),
    "age-recipient-add": ((), "/account/keys/recipients/new/"),
    "api-tokens": ((), "/account/tokens/"),
    "password-change": ((), "/account/password/"),
    "submission-new": ((), "/requests/new/"),
    "submission-submit": ((), "/requests/new/submit/"),
    "officer-requests": ((), "/requests/mine/"),
    "responses": ((), "/responses/"),
    "review-queue": ((), "/review/"),
    "user-notices": ((), "/review/notices/"),
    "vetting-queue": ((), "/vetting/"),
    "staff-rejections": ((), "/staff/rejections/"),
    "staff-policy": ((), "/staff/policy/"),
    # docs/transparency.md
    "transparency": ((), "/transparency/"),
    "transparency-schema": ((), "/transparency/schema.json"),
    "transparency-json": (("2026-Q1",), "/transparency/2026-Q1.json"),
    "transparency-csv": (("2026-Q1",), "/transparency/2026-Q1.csv"),
    "transparency-version-json": ((3,), "/transparency/versions/3.json"),
    "staff-transparency": ((), "/staff/transparency/"),
}


# --- Finding the names ----------------------------------------------------------------------


@dataclass(frozen=True)
class Use:
    name: str
    where: str  # file:line

    def __str__(self) -> str:
        return f"{self.name!r} ({self.where})"


TEMPLATE_URL = re.compile(r"""\{%\s*url\s+(['"])(?P<name>[^'"]+)\1""")
# {% url kind.url_name|add:'-approve' key.pk %}: a ``url_name`` of the portal's own objects
# with a suffix.
TEMPLATE_URL_SUFFIXED = re.compile(
    r"""\{%\s*url\s+[\w.]*url_name\|add:(['"])(?P<suffix>[^'"]+)\1"""
)
NAMING_CALLS = {"reverse", "reverse_lazy", "redirect", "resolve_url"}


def python_files() -> Iterator[Path]:
    for top in CODE:
        for path in sorted((ROOT / top).rglob("*.py")):
            if "migrations" in path.parts or path.resolve() == THIS_FILE:
                continue
            yield path


def template_files() -> Iterator[Path]:
    seen: set[Path] = set()
    for top in TEMPLATES:
        for path in sorted((ROOT / top).rglob("*.html")):
            if path not in seen:
                seen.add(path)
                yield path


def where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


def constants(node: ast.AST | None) -> list[str]:
    """The strings an expression can be: a literal, or either side of ``a if c else b``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return constants(node.body) + constants(node.orelse)
    return []


def strings_bound_to(scopes: list[ast.AST], variable: str) -> list[str]:
    """The literal strings a name is given in its function or its module.

    Assigned (``REQUEST_PAGE = "review-request"``), or a parameter's default
    (``view: str = "mailbox-verify"``).
    """
    found: list[str] = []
    for scope in scopes:
        body = scope.body if isinstance(scope, ast.Module) else list(ast.walk(scope))
        for node in body:
            if isinstance(node, ast.Assign):
                if any(isinstance(t, ast.Name) and t.id == variable for t in node.targets):
                    found += constants(node.value)
            elif isinstance(node, ast.AnnAssign):
                if isinstance(node.target, ast.Name) and node.target.id == variable:
                    found += constants(node.value)
        if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
            args = scope.args
            positional = args.posonlyargs + args.args
            with_defaults = positional[len(positional) - len(args.defaults) :]
            pairs = [*zip(with_defaults, args.defaults, strict=True)]
            pairs += [*zip(args.kwonlyargs, args.kw_defaults, strict=True)]
            found += [
                v for arg, default in pairs if arg.arg == variable for v in constants(default)
            ]
    return found


def enclosing_functions(tree: ast.Module) -> dict[ast.AST, ast.AST]:
    """Each node's innermost enclosing function (the module for top-level code)."""
    owner: dict[ast.AST, ast.AST] = {}

    def visit(node: ast.AST, scope: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            owner[child] = scope
            is_function = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            visit(child, child if is_function else scope)

    visit(tree, tree)
    return owner


def called_name(call: ast.Call) -> str:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return ""


def portal_classes() -> set[str]:
    """The classes the portal itself defines (not the libraries it uses)."""
    return {
        node.name
        for path in python_files()
        if path.parts[len(ROOT.parts)] != "tests"
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.ClassDef)
    }


def names_in_code() -> tuple[list[Use], list[Use]]:
    """(every name used in the code, the ``url_name`` of the portal's own objects)."""
    uses: list[Use] = []
    object_url_names: list[Use] = []
    own = portal_classes()
    for path in python_files():
        tree = ast.parse(path.read_text(), str(path))
        owner = enclosing_functions(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            if called_name(node) in NAMING_CALLS and node.args:
                first = node.args[0]
                if isinstance(first, ast.Name):
                    scopes = [owner[node], tree] if owner[node] is not tree else [tree]
                    found = strings_bound_to(scopes, first.id)
                else:
                    found = constants(first)
                uses += [Use(name, where(path, node.lineno)) for name in found]
            for keyword in node.keywords:
                if keyword.arg == "url_name":
                    found = [Use(n, where(path, node.lineno)) for n in constants(keyword.value)]
                    uses += found
                    if called_name(node) in own:
                        object_url_names += found
    return uses, object_url_names


def names_in_templates(object_url_names: list[Use]) -> list[Use]:
    uses: list[Use] = []
    for path in template_files():
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            uses += [Use(m["name"], where(path, number)) for m in TEMPLATE_URL.finditer(line)]
            for match in TEMPLATE_URL_SUFFIXED.finditer(line):
                uses += [
                    Use(base.name + match["suffix"], f"{where(path, number)} via {base.where}")
                    for base in object_url_names
                ]
    return uses


def names_in_settings() -> list[Use]:
    """LOGIN_URL and the redirects: Django reads a value without a slash as a route name."""
    return [
        Use(value, f"settings.{setting}")
        for setting in ("LOGIN_URL", "LOGIN_REDIRECT_URL", "LOGOUT_REDIRECT_URL")
        if isinstance(value := getattr(settings, setting, None), str) and "/" not in value
    ]


def all_uses() -> list[Use]:
    code, object_url_names = names_in_code()
    return code + names_in_templates(object_url_names) + names_in_settings()


USES = all_uses()


# --- Reversing a name with made-up arguments ------------------------------------------------


def samples_for(name: str) -> Iterator[dict[str, Any]]:
    """Keyword arguments that fit each pattern the name has, as far as types tell."""
    resolver = get_resolver()
    *namespaces, view = name.split(":")
    for namespace in namespaces:
        resolver = resolver.namespace_dict[namespace][1]
    for possibility, _pattern, defaults, converters in resolver.reverse_dict.getlist(view):
        for _result, params in possibility:
            wanted = [p for p in params if p not in defaults]
            choices = [
                [CONVERTER_SAMPLES[type(converters[p])]] if p in converters else REGEX_SAMPLES
                for p in wanted
            ]
            for values in itertools.product(*choices):
                yield dict(zip(wanted, values, strict=True))


def reverse_with_samples(name: str) -> str | None:
    """The URL of ``name`` with made-up arguments, or ``None`` if no pattern has it."""
    try:
        candidates = list(samples_for(name))
    except KeyError:  # an unknown namespace
        return None
    for kwargs in candidates:
        try:
            return reverse(name, kwargs=kwargs)
        except NoReverseMatch:
            continue
    return None


# --- The tests ------------------------------------------------------------------------------


def test_the_names_are_found_in_templates_code_settings_and_tests() -> None:
    # The finder itself: a check of no names would pass whatever the URLconf lost.
    places = {use.where.split(":")[0].split("/")[0] for use in USES}
    assert {"templates", "accounts", "requests_app", "project", "tests"} <= places, places
    names = {use.name for use in USES}
    assert len(names) > 60, sorted(names)
    assert {
        "review-request",  # a module constant given to reverse()
        "mailbox-verify",  # a parameter's default given to reverse()
        "login-verify",  # either side of a conditional given to reverse()
        "api-schema",  # url_name= of the API documentation
        "vetting-signing-key-approve",  # a template's url_name|add:'-approve'
        "login",  # settings.LOGIN_URL
    } <= names


@pytest.mark.parametrize("name", sorted({use.name for use in USES}))
def test_every_route_name_in_use_resolves_in_the_project_urlconf(name: str) -> None:
    url = reverse_with_samples(name)

    users = ", ".join(str(use) for use in USES if use.name == name)
    assert url is not None, f"no route named {name!r} in project.urls; used at {users}"
    assert resolve(url).view_name == name, (url, resolve(url).view_name)


@pytest.mark.parametrize("name", sorted(ENTRY_POINTS))
def test_each_documented_entry_point_is_at_its_documented_address(name: str) -> None:
    args, address = ENTRY_POINTS[name]

    assert reverse(name, args=args) == address
    assert resolve(address).view_name == name


# --- No test brings its own URLconf -----------------------------------------------------------


def own_urlconfs(source: str) -> list[str]:
    """What in ``source`` replaces or extends the project's URLconf, as ``line: what``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        what = None
        if isinstance(node, ast.Attribute) and node.attr == "urls":
            if isinstance(node.value, ast.Attribute) and node.value.attr == "mark":
                what = "pytest.mark.urls"
        elif isinstance(node, ast.Attribute) and node.attr in ("ROOT_URLCONF", "urlconf"):
            what = node.attr
        elif isinstance(node, ast.keyword) and node.arg in ("ROOT_URLCONF", "urlconf"):
            what = f"{node.arg}="
        elif isinstance(node, ast.Name) and node.id in ("urlpatterns", "ROOT_URLCONF"):
            what = node.id
        elif isinstance(node, ast.Constant) and node.value == "ROOT_URLCONF":
            what = '"ROOT_URLCONF"'
        if what is not None:
            found.append(f"{node.lineno}: {what}")
    return found


@pytest.mark.parametrize(
    "source",
    [
        '@pytest.mark.urls("tests.portal.problem_views")\ndef test_x(): ...',
        "def test_x(settings):\n    settings.ROOT_URLCONF = 'tests.urls'",
        "@override_settings(ROOT_URLCONF='tests.urls')\ndef test_x(): ...",
        "urlpatterns = [path('x', view)]",
        "def test_x(rf):\n    request = rf.get('/')\n    request.urlconf = 'tests.urls'",
        "with self.settings(**{'ROOT_URLCONF': 'tests.urls'}): ...",
    ],
)
def test_the_urlconf_check_catches_each_way_of_bringing_one(source: str) -> None:
    assert own_urlconfs(source)


def test_no_test_module_brings_its_own_urlconf() -> None:
    found = {
        str(path.relative_to(ROOT)): hits
        for path in sorted((ROOT / "tests").rglob("*.py"))
        if path.resolve() != THIS_FILE and (hits := own_urlconfs(path.read_text()))
    }

    assert found == {}
