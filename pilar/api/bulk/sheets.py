"""Reading and writing spreadsheets, one row at a time: CSV (UTF-8, `,` or `;`) and XLSX (openpyxl
in read-only and write-only mode, so memory stays flat however long the file). Rows are numbered as
a spreadsheet shows them: the header is row 1."""

import csv
import io
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from openpyxl import Workbook, load_workbook

FORMATS = ("csv", "xlsx")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
_ZIP = b"PK\x03\x04"
# A cell starting with one of these is run as a formula by a spreadsheet (CSV injection): written
# with a leading apostrophe, which spreadsheets show as text and imports take off again.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
GUARD = "'"


class BadFile(ValueError):
    """A file that is not a readable CSV or XLSX, or has no header row: refused whole."""


@contextmanager
def rows_of(path: Path) -> Iterator[tuple[list[str], Iterator[tuple[int, dict[str, Any]]]]]:
    """(the header, then each non-empty row as (row number, {column: cell}))."""
    with open(path, "rb") as probe:
        start = probe.read(4096)
    if start.startswith(_ZIP):
        with _xlsx_rows(path) as found:
            yield found
    else:
        with _csv_rows(path, start) as found:
            yield found


@contextmanager
def _xlsx_rows(path: Path):
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # noqa: BLE001 - openpyxl raises many kinds for a broken file
        raise BadFile(f"not a readable XLSX file ({type(error).__name__})") from None
    try:
        sheet = book.worksheets[0] if book.worksheets else None
        if sheet is None:
            raise BadFile("the XLSX file has no sheet")
        values = sheet.iter_rows(values_only=True)
        yield _numbered(values)
    finally:
        book.close()


@contextmanager
def _csv_rows(path: Path, start: bytes):
    if b"\x00" in start:
        raise BadFile("not a CSV (UTF-8 text) or XLSX file")
    try:
        start.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        if error.start < len(start) - 4:  # not just a character cut at the probe's end
            raise BadFile("not a CSV (UTF-8 text) or XLSX file") from None
    first_line = start.decode("utf-8-sig", errors="ignore").splitlines()[0] if start.strip() else ""
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    with open(path, encoding="utf-8-sig", newline="") as text:
        try:
            yield _numbered(csv.reader(text, delimiter=delimiter))
        except UnicodeDecodeError:
            raise BadFile("the CSV file is not UTF-8 text throughout") from None


def _numbered(values: Iterable[Iterable[Any]]) -> tuple[list[str], Iterator[tuple[int, dict[str, Any]]]]:
    rows = iter(values)
    header_row = next(rows, None)
    header = [("" if h is None else str(h)).strip() for h in (header_row or ())]
    while header and not header[-1]:
        header.pop()
    if not any(header):
        raise BadFile("the first row must be the header (the template's column names); it is empty")

    def numbered() -> Iterator[tuple[int, dict[str, Any]]]:
        for number, row in enumerate(rows, start=2):
            cells = list(row)
            if all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
                continue
            yield number, {name: (cells[i] if i < len(cells) else None) for i, name in enumerate(header) if name}

    return header, numbered()


def guarded(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return GUARD + value
    return value


def unguarded(value: str) -> str:
    return value[1:] if value.startswith(GUARD) and value[1:].startswith(FORMULA_STARTS) else value


def write_csv(header: list[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """The CSV text, a row at a time (for a streamed answer)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    yield buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([guarded("" if v is None else v) for v in row])
        yield buffer.getvalue()


def write_xlsx(header: list[str], rows: Iterable[Iterable[Any]], out: IO[bytes], *, text_columns: Iterable[str] = ()) -> None:
    """An XLSX workbook of one sheet, written row by row (write-only mode). `text_columns` are
    formatted as text, so a spreadsheet keeps a NIK's 16 digits instead of rounding a number."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("pilar")
    text = set(text_columns)
    for index, name in enumerate(header):
        if name in text:
            letter = _column_letter(index)
            sheet.column_dimensions[letter].number_format = "@"
    sheet.append(header)
    for row in rows:
        sheet.append([guarded(v) for v in row])
    book.save(out)


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters
