"""Find English left in a translated page: the rule of tests/i18n/test_every_route.py.

A page is rendered twice, in English and in another language. Its visible text is cut into
text nodes (the text between two tags, plus the attributes a user reads or hears: ``title``,
``alt``, ``placeholder``, ``aria-label``, a button's ``value``). A node of the translated
page is a *leftover* when

1. the English rendering of the same page has the very same node (after collapsing
   white space): nothing translated it; and
2. once everything that is not prose is taken out of it, at least two English words
   remain. Taken out are, first, the data of the page (``data``: every text the fixtures
   stored, line by line: names, case references, descriptions, legal bases, zone names;
   no catalog translates them); then the allow-list below (proper nouns, names of laws
   and tools); URLs, e-mail addresses, hashes and anything holding a digit or one of
   ``@ / : _ = # < > .`` inside a word (identifiers, references, key ids, file names);
   all-capital acronyms (``PDF``, ``CSV``, ``UTC``). A word is then a run of ASCII
   letters, two or more, with at most one capital, the first (``Request``, ``pending``;
   not ``iPhone`` or ``eIDAS``).

Never read: comments, ``<script>``, ``<style>``, ``<code>``, ``<kbd>``, ``<pre>``,
``<samp>``, ``<template>``, ``<textarea>`` (a value to edit), and any element marked
``translate="no"`` (with everything inside it), which is how a template says "this is
not language" (a key, a command, a language's own name in the switcher).
"""

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from xml.etree.ElementTree import Element

import tinyhtml5

XHTML = "{http://www.w3.org/1999/xhtml}"
# ``textarea`` holds what a user typed or a form was given to edit: data, like an input's
# value, which is never read either.
NOT_TEXT = {"script", "style", "code", "kbd", "pre", "samp", "template", "textarea", "svg", "math"}
READ_ATTRIBUTES = ("title", "alt", "placeholder", "aria-label")

# Proper nouns and names that stay as they are in every language. Keep this list small:
# every entry is a phrase no translator would change. Matched whole, case-sensitively.
ALLOWED = (
    "Marco Civil da Internet",  # Brazil's internet law (Lei 12.965/2014), never translated
    "18 U.S.C. § 2703",  # the US Stored Communications Act's section, cited as is
    "18 U.S.C. 2703",
    "Regulation (EU) 2023/1543",  # the EU e-evidence regulation: its official English title
    "Ed25519",  # the signature algorithm
    "age",  # the file encryption tool (age-encryption.org), written in lower case
    "TOTP",
    "WebAuthn",
    "Bharatiya Nagarik Suraksha Sanhita",  # India's BNSS, named in its own words
)

URL = re.compile(r"\b(?:https?|mailto|tel):\S+|\bwww\.\S+")
EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
HEX = re.compile(r"\b[0-9a-fA-F]{8,}\b")
WORD = re.compile(r"^[A-Za-z]?[a-z]+$")
PUNCTUATION = "\"'“”‘’«»()[]{},;!?…–—·•|*"


@dataclass(frozen=True)
class Leftover:
    text: str
    words: tuple[str, ...]


def _local(tag: object) -> str:
    return tag.removeprefix(XHTML) if isinstance(tag, str) else ""


def text_nodes(html: str) -> Iterator[str]:
    """The visible text nodes of a page, white space collapsed, empty ones dropped."""
    root = tinyhtml5.parse(html)
    yield from _walk(root)


def _walk(element: Element) -> Iterator[str]:
    if not isinstance(element.tag, str):
        return  # a comment or processing instruction: not shown (its tail is the parent's)
    tag = _local(element.tag)
    if tag in NOT_TEXT or element.get("translate") == "no":
        return
    for name in READ_ATTRIBUTES:
        if element.get(name):
            yield from _clean([element.get(name)])
    if tag == "input" and element.get("type") in ("submit", "button", "reset"):
        yield from _clean([element.get("value")])
    yield from _clean([element.text])
    for child in element:
        yield from _walk(child)
        yield from _clean([child.tail])


def _clean(texts: Iterable[str | None]) -> Iterator[str]:
    for text in texts:
        if text:
            collapsed = " ".join(text.split())
            if collapsed:
                yield collapsed


def _bare(text: str) -> str:
    """Words without the punctuation around them: how data and nodes are compared."""
    return " ".join(filter(None, (token.strip(PUNCTUATION + ".:") for token in text.split())))


def english_words(text: str, data: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """The English words of a node once data, names, identifiers and acronyms are out.

    ``data`` (compared with ``_bare``) is matched on whole words: any run of the node's
    words that is one of them goes, a set look-up per run, so thousands of fixture texts
    cost nothing.
    """
    tokens = text.split()
    if data:
        bare = [_bare(token) for token in tokens]
        kept = [True] * len(tokens)
        for start in range(len(tokens)):
            for end in range(len(tokens), start, -1):
                if " ".join(filter(None, bare[start:end])) in data:
                    kept[start:end] = [False] * (end - start)
                    break
        text = " ".join(token for token, keep in zip(tokens, kept, strict=True) if keep)
    for phrase in ALLOWED:
        if phrase in text:
            text = re.sub(rf"(?<!\w){re.escape(phrase)}(?!\w)", " ", text)
    text = URL.sub(" ", text)
    text = EMAIL.sub(" ", text)
    text = HEX.sub(" ", text)
    words = []
    for token in text.split():
        token = token.strip(PUNCTUATION).rstrip(".:")
        if re.search(r"[\d@/:_=#<>.]", token):
            continue  # an identifier, a reference, a number, a path
        for part in token.split("-"):
            if len(part) >= 2 and WORD.match(part):
                words.append(part)
    return tuple(words)


def data_of(texts: Iterable[str]) -> frozenset[str]:
    """Fixture texts as ``english_words`` compares them (each line on its own too)."""
    found = set()
    for text in texts:
        for piece in (text, *text.splitlines()):
            bare = _bare(piece)
            if len(bare) >= 3:
                found.add(bare)
    return frozenset(found)


def leftovers(translated: str, english: str, data: Iterable[str] = ()) -> list[Leftover]:
    """The text nodes of ``translated`` that are English left untranslated (see above)."""
    data = data if isinstance(data, frozenset) else data_of(data)
    in_english = set(text_nodes(english))
    found: dict[str, Leftover] = {}
    for node in text_nodes(translated):
        if node in in_english and node not in found:
            words = english_words(node, data)
            if len(words) >= 2:
                found[node] = Leftover(node, words)
    return list(found.values())
