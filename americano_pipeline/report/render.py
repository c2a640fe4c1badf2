"""Rendering: the ``Report`` to one self-contained HTML file (Jinja2; figures embedded as base64 data URIs), and
that same HTML to PDF with WeasyPrint (a maintained HTML/CSS-to-PDF engine, BSD-licensed; it lays text out with
the system's Pango, so Debian needs ``libpango-1.0-0 libpangoft2-1.0-0``, which ``.ci/run`` installs).

Why one HTML for both: the PDF says exactly what the HTML says. Both are written into a staging directory and moved
in with ``analysis.publish`` (``os.replace`` per file) only when both rendered, so a failed render keeps the previous
report.
Jinja2 and WeasyPrint are imported inside the functions: the Dagster code location imports this package's asset.
"""

from __future__ import annotations

import base64
from pathlib import Path

from americano_pipeline.report.model import Report

HTML_FILE = "report.html"
PDF_FILE = "report.pdf"
TEMPLATE = "report.html.j2"


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def render_html(report: Report) -> str:
    """The report as one HTML document with every figure embedded (no file beside it is needed)."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("americano_pipeline.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]), undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True)
    return environment.get_template(TEMPLATE).render(report=report, data_uri=_data_uri)


def render_pdf(html: str, path: Path) -> Path:
    """``html`` as PDF at ``path`` (WeasyPrint; A4 from the template's @page rule)."""
    from weasyprint import HTML

    HTML(string=html, base_url=str(path.parent)).write_pdf(str(path))
    return path


def publish_report(report: Report, target: Path) -> tuple[Path, Path]:
    """Render ``report`` into ``target``/report.html and report.pdf atomically; (html path, pdf path)."""
    from americano_pipeline.analysis.publish import publish, staging_directory

    with staging_directory(target) as staging:
        html = render_html(report)
        render_pdf(html, staging / PDF_FILE)
        (staging / HTML_FILE).write_text(html, encoding="utf-8")
        publish(staging, target)
    return target / HTML_FILE, target / PDF_FILE
