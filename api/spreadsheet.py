"""Leads as a CSV file that opens cleanly in Excel and LibreOffice, Cyrillic included.

- UTF-8 with a byte-order mark: without it Excel reads UTF-8 as the locale's code page and
  "Иван" comes out as "Р˜РІР°РЅ".
- RFC 4180 quoting (a field with the separator, a quote or a line break is quoted, quotes
  doubled) and CRLF line ends; a comma or, for Excel in locales whose list separator is ``;``,
  a semicolon between fields.
- No formulas: a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
  gets a leading ``'``, so a name typed as ``=HYPERLINK(...)`` is shown, never run (a phone number
  ``+7 916 ...`` reads ``'+7 916 ...``).
- Times in UTC as ``YYYY-MM-DD HH:MM:SS``, which both read as a date and time.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

from flows.ports import LeadSummary

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ROWS_PER_CHUNK = 200

HEADER = (
    "Lead id",
    "Created (UTC)",
    "Updated (UTC)",
    "Stage",
    "Tier",
    "Score",
    "Name",
    "Company",
    "E-mail",
    "Phone",
    "Flow",
    "Channel",
    "Conversations",
    "Possible duplicates",
    "CRM outcome (UTC)",
    "CRM outcome reason",
)


def text_cell(value: str | None) -> str:
    if not value:
        return ""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def time_cell(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def number_cell(value: int | None) -> str:
    return "" if value is None else str(value)


def row_of(lead: LeadSummary) -> Sequence[str]:
    contact = lead.contact
    return (
        str(lead.id),
        time_cell(lead.created_at),
        time_cell(lead.updated_at),
        lead.stage.value,
        text_cell(lead.tier),
        number_cell(lead.score),
        text_cell(contact.name),
        text_cell(contact.company),
        text_cell(contact.email),
        text_cell(contact.phone),
        text_cell(lead.flow_id),
        text_cell(lead.channel),
        number_cell(lead.conversations),
        number_cell(lead.candidates),
        time_cell(lead.outcome_at),
        text_cell(lead.outcome_reason),
    )


async def lead_rows(leads: AsyncIterator[LeadSummary], separator: str = ",") -> AsyncIterator[bytes]:
    """The file, a chunk of rows at a time: the BOM and the header first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=separator, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow(HEADER)
    count = 0
    async for lead in leads:
        writer.writerow(row_of(lead))
        count += 1
        if count % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue().encode("utf-8", "replace")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8", "replace")
