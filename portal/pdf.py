"""PDF documents the portal issues: a response's certificate of authenticity, a receipt.

Each is a Django template rendered to HTML, then laid out by WeasyPrint with the one
stylesheet beside this module. Nothing is fetched while rendering: the fetcher refuses
every URL (no file, no network), so text that came from outside (a target, a name) can
only ever be text, and a document renders the same on a machine without a network.
"""

from pathlib import Path
from typing import Any

from django.template.loader import render_to_string

STYLESHEET = Path(__file__).with_name("pdf.css")


def pdf_render(template: str, context: dict[str, Any]) -> bytes:
    """Render ``template`` with ``context`` and return the PDF's bytes."""
    return _pdf_from_html(render_to_string(template, context))


def pdf_engine_load() -> None:
    """Load WeasyPrint, Pango and the stylesheet's fonts by laying out one small page.

    The first document a process makes pays for that (about a second of CPU); a Celery
    worker process does it when it starts (``portal.celery``), so that no seal and no
    receipt does.
    """
    _pdf_from_html(
        "<h1>A</h1><p>a <code>0</code> <span lang='hi'>\u0905</span></p>"
        "<table><tr><th>a</th><td>b</td></tr></table>"
    )


def _pdf_from_html(html: str) -> bytes:
    # Imported here: WeasyPrint loads Pango and fonts, which only PDF-making processes need.
    import weasyprint
    from weasyprint.urls import URLFetcher

    refuse_all = URLFetcher(allowed_protocols=())
    document = weasyprint.HTML(string=html, base_url=None, url_fetcher=refuse_all)
    stylesheet = weasyprint.CSS(
        string=STYLESHEET.read_text(encoding="utf-8"), url_fetcher=refuse_all
    )
    pdf: bytes = document.write_pdf(stylesheets=[stylesheet])
    return pdf
