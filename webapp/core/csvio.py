"""CSV out (spreadsheet-safe) and in (size-limited, header-checked) for list exports and imports."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from quart import Response

from webapp.core.errors import ValidationError

EXPORT_LIMIT = 100_000
MAX_IMPORT_BYTES = 1_000_000
MAX_IMPORT_ROWS = 2_000
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    text = "" if value is None else (value.value if hasattr(value, "value") else str(value))
    text = str(text)
    # a leading = + - @ would run as a formula in a spreadsheet (CSV injection); numbers stay numbers
    if text.startswith(_FORMULA_START) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def csv_line(values: Iterable) -> str:
    """One CSV record."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow([_cell(v) for v in values])
    return buffer.getvalue()


async def collect_pages(fetch_page, limit: int = EXPORT_LIMIT) -> list:
    """Every row of a cursor-paged list, up to `limit`: `fetch_page(cursor)` returns a Page."""
    rows, cursor = [], None
    while len(rows) < limit:
        page = await fetch_page(cursor)
        rows += page.items
        if not (cursor := page.next_cursor):
            break
    return rows[:limit]


def csv_response(filename: str, header: list[str], rows: Iterable[Iterable]) -> Response:
    """A CSV download, streamed from rows read before the response (the request's transaction has ended by
    the time the body is sent)."""

    async def body():
        yield csv_line(header)
        for row in rows:
            yield csv_line(row)

    response = Response(body(), content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def read_csv(data: bytes, required: tuple[str, ...], allowed: tuple[str, ...]) -> list[dict[str, str]]:
    """Rows of an uploaded CSV as dicts; a 422 on size, encoding, or missing/unknown columns."""
    if not data:
        raise ValidationError.field("file", "Choose a CSV file.")
    if len(data) > MAX_IMPORT_BYTES:
        raise ValidationError.field("file", f"The file is larger than {MAX_IMPORT_BYTES // 1000} kB.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError.field("file", "Save the file as UTF-8 CSV.") from exc
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in required if c not in header]
    unknown = [c for c in header if c not in allowed]
    if missing or unknown:
        problems = ([f"missing column(s): {', '.join(missing)}"] if missing else []) + (
            [f"unknown column(s): {', '.join(unknown)}"] if unknown else []
        )
        raise ValidationError.field(
            "file", "The header does not fit: " + "; ".join(problems) + f". Expected columns: {', '.join(allowed)}."
        )
    rows = []
    for row in reader:
        if len(rows) >= MAX_IMPORT_ROWS:
            raise ValidationError.field("file", f"At most {MAX_IMPORT_ROWS} rows per import.")
        if None in row:
            raise ValidationError.field("file", f"Row {len(rows) + 2} has more cells than the header.")
        rows.append({k.strip(): (v or "").strip() for k, v in row.items()})
    if not rows:
        raise ValidationError.field("file", "The file has a header but no rows.")
    return rows
