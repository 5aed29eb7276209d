"""Charts drawn on the server as inline SVG: no JavaScript, nothing fetched from elsewhere, and
only presentation attributes (the pages' Content-Security-Policy allows no inline style). Each
chart is an image with a <title> and <desc> and its numbers written on it; the page shows the
same numbers as a table beside it (pilar/web/tables.py)."""

from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

WIDTH = 340  # about a phone's width in px, so that text on a chart reads at about the page's size
INK = "#1b1b1b"  # the pages' text colour: text on the charts reads as well as the page's
COLOURS = ("#0f4c3a", "#c26b00")  # the pages' green, and an orange told apart from it without colour vision
GRID = "#d5d8d0"


def _frame(key: str, title: str, desc: str, height: int, body: list[str]) -> Markup:
    ids = f"chart-{escape(key)}"
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="{ids}-t {ids}-d" '
        f'xmlns="http://www.w3.org/2000/svg"><title id="{ids}-t">{escape(title)}</title>'
        f'<desc id="{ids}-d">{escape(desc)}</desc>{"".join(body)}</svg>')


def _text(x: float, y: float, text: str, *, size: int = 15, anchor: str = "start", weight: str = "normal") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" font-weight="{weight}" fill="{INK}" '
            f'text-anchor="{anchor}">{escape(text)}</text>')


def bars(key: str, title: str, desc: str, items: Sequence[tuple[str, int]],
         shown: Callable[[int], str] = str, empty: str = "") -> Markup:
    """Horizontal bars, one a row: its label above it and its value at its end."""
    if not items:
        return _frame(key, title, desc, 30, [_text(0, 20, empty)])
    row, top = 42, 4
    longest = max(value for _, value in items) or 1
    room = WIDTH - 110  # what the longest bar may fill, leaving its value room to be read
    body = []
    for n, (name, value) in enumerate(items):
        y = top + n * row
        length = room * value / longest
        body.append(_text(0, y + 15, name))
        body.append(f'<rect x="0" y="{y + 21}" width="{max(length, 1):.1f}" height="15" fill="{COLOURS[0]}"/>')
        body.append(_text(length + 6, y + 34, shown(value), size=14, weight="bold"))
    return _frame(key, title, desc, top + len(items) * row + 4, body)


def columns(key: str, title: str, desc: str, groups: Sequence[tuple[str, Sequence[int]]],
            series: Sequence[str]) -> Markup:
    """Columns side by side per group (e.g. opened and closed, per month), a legend above them
    and each non-zero value on its column."""
    height, legend, base = 230, 22, 200
    slot = WIDTH / max(len(groups), 1)
    width = min(slot * 0.8 / max(len(series), 1), 18)
    tallest = max((v for _, values in groups for v in values), default=0) or 1
    body = []
    for n, name in enumerate(series):
        x = n * 130
        body.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{COLOURS[n % len(COLOURS)]}"/>')
        body.append(_text(x + 16, 17, name, size=14))
    body.append(f'<line x1="0" y1="{base}" x2="{WIDTH}" y2="{base}" stroke="{GRID}"/>')
    room = base - legend - 22
    for g, (name, values) in enumerate(groups):
        left = g * slot + (slot - width * len(values)) / 2
        for n, value in enumerate(values):
            h = room * value / tallest
            x = left + n * width
            body.append(f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{width:.1f}" height="{h:.1f}" '
                        f'fill="{COLOURS[n % len(COLOURS)]}"/>')
            if value:
                body.append(_text(x + width / 2, base - h - 3, str(value), size=11, anchor="middle"))
        body.append(_text(g * slot + slot / 2, base + 16, name, size=11, anchor="middle"))
    return _frame(key, title, desc, height, body)
