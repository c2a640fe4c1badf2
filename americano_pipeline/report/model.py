"""The report as pure data: CENT 2015 items, each filled from the data or marked not reported with the reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

NOT_REPORTED = "not reported"


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""


@dataclass(frozen=True)
class Figure:
    title: str
    path: Path
    caption: str


@dataclass(frozen=True)
class Item:
    """One CENT 2015 checklist item (``number`` as in the checklist, e.g. "17a"), or a block the report adds
    (``number`` empty: figures, provenance). ``not_reported`` is the reason when the data cannot fill it."""

    number: str
    section: str
    title: str
    fields: tuple[tuple[str, str], ...] = ()
    paragraphs: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    figures: tuple[Figure, ...] = ()
    label: str = ""  # "confirmatory" / "supportive" for results
    not_reported: str | None = None

    @property
    def status(self) -> str:
        return f"{NOT_REPORTED}: {self.not_reported}" if self.not_reported else "filled"

    @property
    def reported(self) -> bool:
        return self.not_reported is None


@dataclass(frozen=True)
class Report:
    protocol_id: str
    protocol_name: str
    design_type: str
    title: str
    generated_at: str
    items: tuple[Item, ...]
    sources: dict = field(default_factory=dict)  # what was read: paths and the warehouse

    @property
    def not_reported(self) -> tuple[Item, ...]:
        return tuple(item for item in self.items if not item.reported)

    def item(self, number: str) -> Item:
        return next(item for item in self.items if item.number == number)

    def sections(self) -> list[tuple[str, list[Item]]]:
        """Items grouped by section, in report order."""
        grouped: list[tuple[str, list[Item]]] = []
        for item in self.items:
            if not grouped or grouped[-1][0] != item.section:
                grouped.append((item.section, []))
            grouped[-1][1].append(item)
        return grouped
