"""Dagster-free: the CENT 2015 report of one protocol, built from its registered design (the marts) and the four
published analysis results, rendered to one self-contained HTML file and to PDF from that same HTML.

Why this shape: ``inputs`` gathers everything the report states into plain values (``ReportInputs``);
``build`` turns them into a ``Report`` (pure data: every CENT item either filled from the data or marked "not
reported" with the reason), so the checklist is testable without a warehouse, a template or a PDF engine;
``render`` is the only place that knows HTML (Jinja2, ``templates/report.html.j2``, figures embedded as base64) and
PDF (WeasyPrint, rendering that HTML); ``publish_report`` writes both atomically through ``analysis.publish``.
"""

from americano_pipeline.report.model import NOT_REPORTED, Figure, Item, Report, Table

__all__ = ["NOT_REPORTED", "Figure", "Item", "Report", "Table"]
