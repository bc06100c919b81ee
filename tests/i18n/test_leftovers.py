"""The rule that finds English left in a translated page (tests/i18n/leftovers.py)."""

from tests.i18n.leftovers import leftovers, text_nodes

ENGLISH = """<!doctype html><html lang="en"><head><title>My requests · Authority portal</title>
</head><body><a href="#main">Skip to main content</a>
<main><h1>My requests</h1>
<p>Due <strong>in 3 days</strong> for review</p>
<p title="Open the request">x</p><input type="submit" value="Send the request">
<p>Requested by Ana Souza</p><p>Ana Souza</p>
<p>Marco Civil da Internet</p><p>18 U.S.C. § 2703</p><p>PDF CSV</p>
<p>https://portal.example/requests/mine/ ana.souza@pf.gov.example.br</p>
<p>sha256 4f9a0c2e8b7d6a5f</p><p>LR-2026-64D4236A45EC</p><p>Ed25519 key</p>
<code>age --decrypt -i identity.txt</code><kbd>Ctrl C</kbd><pre>make run now</pre>
<span translate="no">Português (Brasil)</span><!-- a comment left here -->
<textarea>Notes typed by the officer</textarea>
<script>const message = "Open the response";</script><p>Submit</p></main></body></html>"""


def translated(**replacements: str) -> str:
    page = ENGLISH.replace('lang="en"', 'lang="pt-br"')
    for english, portuguese in replacements.items():
        page = page.replace(english.replace("_", " "), portuguese)
    return page


EVERYTHING = {
    "My_requests": "Meus pedidos",
    "Skip_to_main_content": "Pular para o conteúdo",
    "Due": "Prazo",
    "in_3_days": "em 3 dias",
    "for_review": "para análise",
    "Open_the_request": "Abrir o pedido",
    "Send_the_request": "Enviar o pedido",
    "Requested_by": "Pedido por",
    "Submit": "Enviar",
}


def found(page: str, data=()) -> set[str]:
    return {left.text for left in leftovers(page, ENGLISH, data)}


def test_a_fully_translated_page_has_no_leftover():
    assert found(translated(**EVERYTHING), data=["Ana Souza"]) == set()


def test_an_untranslated_sentence_is_a_leftover_wherever_it_is():
    for key, text in [
        ("for_review", "for review"),  # the tail of an inline element
        ("Skip_to_main_content", "Skip to main content"),
        ("Open_the_request", "Open the request"),  # a title attribute
        ("Send_the_request", "Send the request"),  # a button's value
        ("in_3_days", "in 3 days"),  # words around a number
    ]:
        replacements = {k: v for k, v in EVERYTHING.items() if k != key}
        assert found(translated(**replacements), data=["Ana Souza"]) == {text}, key


def test_the_title_is_read():
    replacements = dict(EVERYTHING)
    page = translated(**replacements).replace("<title>Meus pedidos", "<title>My requests")
    assert found(page, data=["Ana Souza"]) == {"My requests · Authority portal"}


def test_names_from_the_fixtures_are_data_but_words_around_them_are_not():
    replacements = {k: v for k, v in EVERYTHING.items() if k != "Requested_by"}
    page = translated(**replacements)
    # "<p>Ana Souza</p>" alone is data; "Requested by" around the name is English left.
    assert found(page, data=["Ana Souza"]) == {"Requested by Ana Souza"}
    # Without the fixture's names, the name alone would count as two English words.
    assert "Ana Souza" in found(translated(**EVERYTHING))


def test_what_is_not_language_is_never_read():
    nodes = list(text_nodes(ENGLISH))
    for hidden in (
        "age --decrypt -i identity.txt",
        "Ctrl C",
        "make run now",
        "Português (Brasil)",
        "a comment left here",
        "Notes typed by the officer",
        'const message = "Open the response";',
    ):
        assert all(hidden not in node for node in nodes), hidden
    assert "Send the request" in nodes
    assert "Open the request" in nodes
