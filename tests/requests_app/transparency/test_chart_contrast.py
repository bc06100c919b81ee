"""The charts of /transparency/ meet WCAG 2.2 AA contrast, as the page is served.

Reads the stylesheets the page links, resolves the cascade for every text and bar of
every chart SVG on the page (cssselect2 matches the selectors, tinycss2 parses the CSS,
custom properties resolved), and computes WCAG's contrast ratio from the relative
luminance of each colour against the chart's background: text at least 4.5:1 (1.4.3),
bars at least 3:1 against the background and against the other series (1.4.11).
"""

import re
import xml.etree.ElementTree as ET  # types only; parsing goes through defusedxml
from pathlib import Path

import cssselect2
import defusedxml.ElementTree as SafeET
import pytest
import tinycss2
from django.conf import settings
from django.contrib.staticfiles import finders

from requests_app.transparency.services import snapshot_publish
from tests.factories import make_vetting_admin
from tests.requests_app.transparency.fixture import AS_OF, PERIOD, build_quarter

pytestmark = pytest.mark.django_db


def relative_luminance(colour: str) -> float:
    """WCAG 2.2's relative luminance of an sRGB colour written #rgb or #rrggbb."""
    digits = colour.strip().lstrip("#")
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    assert re.fullmatch(r"[0-9a-fA-F]{6}", digits), f"not a hex colour: {colour!r}"
    channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(first: str, second: str) -> float:
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_the_contrast_formula_gives_wcags_known_values():
    assert contrast_ratio("#000", "#fff") == pytest.approx(21.0)
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)  # just fails
    assert contrast_ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)  # just passes


class Stylesheets:
    """The rules of the stylesheets a page links, in order, with custom properties."""

    def __init__(self, html: str) -> None:
        self.matcher = cssselect2.Matcher()
        self.variables: dict[str, str] = {}
        self.rules: list[tuple[str, dict[str, str]]] = []
        hrefs = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
        assert any("transparency" in href for href in hrefs), hrefs
        for href in hrefs:
            path = finders.find(href.removeprefix(settings.STATIC_URL).split("?")[0])
            assert path, f"the page links {href}, which no static finder serves"
            self._add(Path(str(path)).read_text())

    def _add(self, css: str) -> None:
        for rule in tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True):
            if rule.type != "qualified-rule":
                continue  # @media and the like: the charts' colours are not set there
            declarations = {
                d.lower_name: tinycss2.serialize(d.value).strip()
                for d in tinycss2.parse_declaration_list(
                    rule.content, skip_comments=True, skip_whitespace=True
                )
                if d.type == "declaration"
            }
            prelude = tinycss2.serialize(rule.prelude).strip()
            if prelude == ":root":
                self.variables.update({k: v for k, v in declarations.items() if k.startswith("--")})
            for selector in cssselect2.compile_selector_list(rule.prelude):
                self.matcher.add_selector(selector, declarations)

    def resolve(self, value: str) -> str:
        while match := re.search(r"var\((--[\w-]+)\)", value):
            value = value.replace(match.group(0), self.variables[match.group(1)])
        return value

    def computed(self, element: cssselect2.ElementWrapper, name: str) -> str | None:
        """The cascaded value of ``name`` on ``element`` or, if unset, on its ancestors."""
        node: cssselect2.ElementWrapper | None = element
        while node is not None:
            matches = sorted(self.matcher.match(node), key=lambda m: (m[0], m[1]))
            values = [m[3][name] for m in matches if name in m[3]]
            if values:
                return self.resolve(values[-1])
            node = node.parent
        return None


def chart_svgs(html: str) -> list[ET.Element]:
    return [
        SafeET.fromstring(svg) for svg in re.findall(r'<svg class="chart".*?</svg>', html, re.S)
    ]


@pytest.fixture
def page(client) -> str:
    build_quarter()
    snapshot_publish(actor=make_vetting_admin(), period=PERIOD, now=AS_OF)
    return client.get("/transparency/").content.decode()


def background_of(sheets: Stylesheets, svg: cssselect2.ElementWrapper) -> str:
    """The svg's own background, else the figure's around it (``.chart-figure``)."""
    own = sheets.computed(svg, "background")
    if own:
        return own
    figure = cssselect2.ElementWrapper.from_html_root(
        SafeET.fromstring('<figure class="chart-figure"/>')
    )
    around = sheets.computed(figure, "background")
    assert around, "the chart has no background of its own nor from its figure"
    return around


def test_every_chart_text_has_at_least_4_5_to_1_against_the_chart_background(page):
    sheets = Stylesheets(page)
    svgs = chart_svgs(page)
    assert len(svgs) >= 2, "the published report shows its charts"
    checked = 0
    for svg in svgs:
        root = cssselect2.ElementWrapper.from_xml_root(svg)
        background = background_of(sheets, root)
        for element in root.iter_subtree():
            if element.local_name != "text" or not (element.etree_element.text or "").strip():
                continue
            fill = sheets.computed(element, "fill")
            assert fill, f"chart text {element.etree_element.text!r} has no fill"
            ratio = contrast_ratio(fill, background)
            assert ratio >= 4.5, (
                f"{element.etree_element.text!r} ({element.etree_element.get('class')}): "
                f"{fill} on {background} is {ratio:.2f}:1"
            )
            # axe-core's contrast check reads `color`, not `fill`: it must pass too.
            colour = sheets.computed(element, "color")
            assert colour is None or contrast_ratio(colour, background) >= 4.5
            checked += 1
    assert checked > 10


def test_every_chart_bar_has_at_least_3_to_1_against_the_background_and_the_other_series(page):
    sheets = Stylesheets(page)
    fills: set[str] = set()
    for svg in chart_svgs(page):
        root = cssselect2.ElementWrapper.from_xml_root(svg)
        background = background_of(sheets, root)
        for element in root.iter_subtree():
            if element.local_name != "rect":
                continue
            fill = sheets.computed(element, "fill")
            assert fill, f"a bar ({element.etree_element.get('class')}) has no fill"
            assert contrast_ratio(fill, background) >= 3.0, (fill, background)
            if element.etree_element.get("class") != "series-empty":
                fills.add(fill.lower())
    assert len(fills) >= 2, "the page's charts show two series"
    for first in fills:
        for second in fills - {first}:
            assert contrast_ratio(first, second) >= 3.0, (first, second)
