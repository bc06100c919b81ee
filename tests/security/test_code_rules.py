"""The portal's own security rules (scripts/security_lint.py) hold on the code that ships.

Each rule is proved able to fail: a small planted violation is caught, and the allowed
form next to it is not.
"""

from textwrap import dedent

import pytest

from scripts.security_lint import ALLOWED, check_python, check_template, check_tree


def rules_hit_in_python(source: str, path: str = "requests_app/views.py") -> list[str]:
    return [finding.rule for finding in check_python(path, dedent(source))]


def rules_hit_in_template(text: str, path: str = "templates/page.html") -> list[str]:
    return [finding.rule for finding in check_template(path, dedent(text))]


def test_the_shipped_code_and_templates_break_no_rule_and_every_exception_is_used():
    found, unused = check_tree()

    assert [str(finding) for finding in found] == []
    assert unused == [], "allow-list entries that match nothing any more: remove them"


def test_every_exception_names_its_reason():
    for rule, places in ALLOWED.items():
        for place, reason in places.items():
            assert len(reason.split()) >= 3, (rule, place)


@pytest.mark.parametrize(
    ("source", "rule"),
    [
        ("LegalRequest.objects.get(reference=ref)", "request-gate"),
        ("LegalRequest.objects.filter(agency=a).first()", "request-gate"),
        ("LegalRequest._default_manager.all()", "request-gate"),
        ("get_object_or_404(LegalRequest, reference=ref)", "request-gate"),
        ("SealedResponse.objects.get(pk=1)", "sealed-response-gate"),
        ("mark_safe(text)", "mark-safe"),
        ("django.utils.safestring.mark_safe(text)", "mark-safe"),
        ("SafeString(text)", "mark-safe"),
        ("eval(text)", "unsafe-code"),
        ("exec(text)", "unsafe-code"),
        ("import pickle", "unsafe-code"),
        ("from pickle import loads", "unsafe-code"),
        ("yaml.load(text)", "unsafe-code"),
        ("yaml.load(text, Loader=yaml.Loader)", "unsafe-code"),
        ("subprocess.run(command, shell=True)", "unsafe-code"),
        ("os.system(command)", "unsafe-code"),
        ('cursor.execute(f"SELECT * FROM t WHERE name = {name}")', "sql-formatting"),
        ('cursor.execute("SELECT * FROM t WHERE name = %s" % name)', "sql-formatting"),
        ('cursor.execute("SELECT * FROM t WHERE name = {}".format(name))', "sql-formatting"),
        ("cursor.execute(TEMPLATE.format(rows=inner), params)", "sql-formatting"),
        ('cursor.execute("SELECT * FROM " + table)', "sql-formatting"),
        ('Model.objects.raw(f"SELECT * FROM t WHERE id = {pk}")', "sql-formatting"),
        ('Model.objects.extra(where=[f"id = {pk}"])', "sql-formatting"),
        ('RawSQL(f"id = {pk}", [])', "sql-formatting"),
        ("x = 1  # noqa: S105", "noqa-reason"),
        ("x = 1  # noqa: E501, S608", "noqa-reason"),
    ],
)
def test_each_python_rule_catches_its_planted_violation(source, rule):
    assert rules_hit_in_python(source) == [rule]


def test_sql_built_in_a_variable_first_is_caught_too():
    source = """
        def report(cursor, table):
            sql = f"SELECT COUNT(*) FROM {table}"
            cursor.execute(sql)
    """
    assert rules_hit_in_python(source) == ["sql-formatting"]


def test_csrf_exempt_is_caught_as_a_decorator_and_as_a_call():
    source = """
        from django.views.decorators.csrf import csrf_exempt

        @csrf_exempt
        def page(request):
            return None

        other = csrf_exempt(page)
    """
    assert rules_hit_in_python(source) == ["csrf-exempt", "csrf-exempt"]


@pytest.mark.parametrize(
    "source",
    [
        "request_get_for_officer(officer=officer, reference=ref)",
        "Message.objects.filter(request_id=access.request.pk)",
        "format_html('<b>{}</b>', name)",
        "yaml.safe_load(text)",
        "yaml.load(text, Loader=yaml.SafeLoader)",
        "json.loads(text)",
        "subprocess.run(['age', '-d'], check=True)",
        'cursor.execute("SELECT 1")',
        'cursor.execute("SELECT * FROM t WHERE name = %s", [name])',
        'Model.objects.extra(where=["id = %s"], params=[pk])',
        "x = 1  # noqa: S105  (a public marker, not a secret)",
        "# S608: only names from the model's metadata.\nsql = 1  # noqa: S608",
        "x = 1  # noqa: E501",
    ],
)
def test_the_allowed_forms_next_to_each_rule_are_not_caught(source):
    assert rules_hit_in_python(source) == []


def test_an_exception_applies_to_its_own_place_only():
    source = """
        class QuickSelect:
            def render(self):
                return mark_safe(html)

        def elsewhere():
            return mark_safe(html)
    """
    found = check_python("requests_app/review/views_queue.py", dedent(source))

    assert [(f.rule, f.line) for f in found] == [("mark-safe", 7)]


def test_a_gated_model_is_allowed_in_its_gate_and_nowhere_else():
    source = "LegalRequest.objects.filter(agency_id=1)"

    assert check_python("requests_app/lifecycle/access.py", source) == []
    assert [f.rule for f in check_python("requests_app/officer/views.py", source)] == [
        "request-gate"
    ]


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("<p>{{ note|safe }}</p>", "template-safe"),
        ("<p>{{ note | safe }}</p>", "template-safe"),
        ("<ul>{{ items|safeseq }}</ul>", "template-safe"),
        ("{% autoescape off %}{{ note }}{% endautoescape %}", "template-safe"),
        ('<p style="color: red">Careful</p>', "template-csp"),
        ('<div class="x"\n     style="display:none">', "template-csp"),
        ("<style>p { color: red }</style>", "template-csp"),
        ("<script>start()</script>", "template-csp"),
        ('<script type="module">start()</script>', "template-csp"),
        # The policy has no nonce: an inline script with one would be blocked all the same.
        ('<script nonce="{{ csp_nonce }}">start()</script>', "template-csp"),
        ('<button onclick="go()">Go</button>', "template-csp"),
        ('<a href="javascript:go()">Go</a>', "template-csp"),
    ],
)
def test_each_template_rule_catches_its_planted_violation(text, rule):
    assert rules_hit_in_template(text) == [rule]


@pytest.mark.parametrize(
    "text",
    [
        "<p>{{ note }}</p>",
        '<script type="module" src="{% static \'dist/submit.js\' %}"></script>',
        '<p class="hint">This page needs JavaScript: your browser hashes the files.</p>',
        "{% comment %}The stock page has an inline <style>.{% endcomment %}",
        "{# style= is refused by the CSP #}",
    ],
)
def test_the_allowed_template_forms_are_not_caught(text):
    assert rules_hit_in_template(text) == []


def test_a_finding_names_the_line_it_is_on():
    text = "<p>One</p>\n<p>Two</p>\n<p style='x'>Three</p>\n"

    (finding,) = check_template("templates/page.html", text)

    assert (finding.path, finding.line) == ("templates/page.html", 3)
