"""A report's table: the numbers a chart draws, shown as an HTML table and downloaded as CSV
with exactly the same columns (a header row, UTF-8). A text cell a spreadsheet would run as a
formula (starting with = + - @, or a tab or carriage return) is written with a leading
apostrophe: names come from people's records, and a record is no place to smuggle a formula in."""

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from pilar.web.i18n import rupiah

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Column:
    title: str
    kind: str = "text"  # text, count, rupiah, days


@dataclass
class Table:
    key: str  # its name in the CSV's address
    title: str
    columns: list[Column]
    rows: list[list[Any]]
    chart: Markup | None = None
    note: str = ""
    footer: list[Any] = field(default_factory=list)  # a total row, when the table has one

    def shown(self, n: int, value: Any) -> str:
        """A cell as the page shows it: rupiah as Rp1.500.000, days with a decimal comma."""
        kind = self.columns[n].kind
        if value is None:
            return "–"
        if kind == "rupiah":
            return rupiah(value)
        if kind == "days" and isinstance(value, float):
            return f"{value:g}".replace(".", ",")
        return str(value)

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([_safe(column.title) for column in self.columns])
        for row in [*self.rows, *([self.footer] if self.footer else [])]:
            writer.writerow([_safe(value) for value in row])
        return out.getvalue()


def _safe(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return int(value)  # a median of whole days, as the page shows it
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
