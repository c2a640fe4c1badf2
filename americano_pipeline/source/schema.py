"""The study app's source schema, read from the one SQL file that defines it, and applied from it.

Why parse SQL instead of repeating it in Python: the enum values, column types, nullability and value ranges
must be identical in the database, the synthetic data generator and the Pandera checks. Keeping
``source/schema.sql`` as the only definition makes a drift between them impossible rather than merely tested.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg

TABLES = ("experiment_protocols", "phase_assignments", "context_metadata", "behavioral_events", "analysis_runs")
CUID_PATTERN = r"^c[a-z0-9]{24}$"
_IDEMPOTENT_SECTIONS = "-- Upgrades:"  # the line that starts the idempotent last sections of schema.sql

_ENUM = re.compile(r'CREATE TYPE "(\w+)" AS ENUM \(([^)]*)\);')
_TABLE = re.compile(r'CREATE TABLE "(\w+)" \((.*?)\n\);', re.S)
_COLUMN = re.compile(r'^\s*"(\w+)" ("?\w+"?(?: PRECISION)?(?:\(\d+\))?(?:\[\])?)(.*?),?$')
_RANGE = re.compile(r'CHECK \("(\w+)" BETWEEN (-?[\d.]+) AND (-?[\d.]+)\)')


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str  # e.g. TEXT, INTEGER, TIMESTAMPTZ(3), JSONB, JSONB[], or an enum name
    nullable: bool

    @property
    def is_enum(self) -> bool:
        return self.sql_type.strip('"') in enums()


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    ranges: dict[str, tuple[float, float]]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def schema_sql() -> str:
    """The DDL text, packaged with the code so an installed pipeline can create the schema."""
    return resources.files("americano_pipeline").joinpath("source/schema.sql").read_text(encoding="utf-8")


@cache
def enums() -> dict[str, tuple[str, ...]]:
    """Enum type name -> allowed values, in declaration order."""
    return {
        name: tuple(v.strip().strip("'") for v in body.replace("\n", " ").split(",") if v.strip())
        for name, body in _ENUM.findall(schema_sql())
    }


@cache
def tables() -> dict[str, Table]:
    """Table name -> columns (type, nullability) and the BETWEEN ranges of its CHECK constraints."""
    parsed: dict[str, Table] = {}
    for name, body in _TABLE.findall(schema_sql()):
        columns = []
        for line in body.splitlines():
            match = _COLUMN.match(line)
            if match:
                column, sql_type, rest = match.groups()
                columns.append(Column(column, sql_type.strip('"'), "NOT NULL" not in rest))
        ranges = {col: (float(lo), float(hi)) for col, lo, hi in _RANGE.findall(body)}
        parsed[name] = Table(name, tuple(columns), ranges)
    return parsed


def idempotent_sql() -> str:
    """The upgrades and the roles-and-privileges sections of schema.sql: idempotent, unlike the CREATE TYPE/TABLE
    statements above them."""
    text = schema_sql()
    return text[text.index(_IDEMPOTENT_SECTIONS):]


def schema_exists(conn: psycopg.Connection) -> bool:
    return conn.execute("SELECT to_regclass('public.experiment_protocols') IS NOT NULL").fetchone()[0]


def _owns_schema(conn: psycopg.Connection) -> bool:
    """Whether the login owns the tables (or is a superuser), i.e. may change who else can use them."""
    return conn.execute("SELECT pg_has_role(relowner, 'USAGE') FROM pg_class "
                        "WHERE oid = 'public.experiment_protocols'::regclass").fetchone()[0]


def ensure_schema(conn: psycopg.Connection) -> bool:
    """Apply source/schema.sql in one transaction if the tables are missing; True if it was applied.

    When they exist and the login owns them, only the upgrades and privileges sections are applied, so a database
    created before a column or a grant changed gets the change; a login that does not own them (a pipeline login)
    leaves the schema alone.
    """
    created = not schema_exists(conn)
    if created or _owns_schema(conn):
        with conn.transaction():
            conn.execute(schema_sql() if created else idempotent_sql())
    return created


def row_counts(conn: psycopg.Connection) -> dict[str, int]:
    return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in TABLES}
