"""Leads for people through the admin API, on SQLite and the real PostgreSQL: the list with its
filters and paging, one lead's card as a sales rep reads it, and the CSV export read back the way
a spreadsheet reads it (BOM, quoting, Cyrillic, no formulas)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.spreadsheet import HEADER, text_cell
from tests.api.keyed import Admin, admin_api, admin_settings
from tests.handoff.conftest import eventually
from tests.handoff.receiver import Receiver
from tests.people import Played, qualify

BOM = b"\xef\xbb\xbf"
HOSTILE_REASON = '=HYPERLINK("http://evil.example";"нажми"), звонок; "ок"'


@pytest.fixture
async def admin(database_url: str) -> AsyncIterator[Admin]:
    async with admin_api(admin_settings(database_url)) as made:
        yield made


def read_csv(raw: bytes, delimiter: str = ",") -> list[dict[str, str]]:
    """The file as a spreadsheet reads it: UTF-8 after the BOM, RFC 4180 quoting."""
    assert raw.startswith(BOM), "a BOM, or Excel reads the Cyrillic as cp1251"
    text = raw[len(BOM) :].decode("utf-8")
    assert "\r\n" in text
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    assert tuple(rows[0]) == HEADER
    assert all(len(row) == len(HEADER) for row in rows)
    return [dict(zip(HEADER, row, strict=True)) for row in rows[1:]]


async def three_leads(admin: Admin) -> tuple[Played, Played, Played]:
    sql = await qualify(admin.http, visitor_id="visitor-ivan-0001")
    half = await qualify(
        admin.http, typed={"name": "Мария Сидорова", "phone": "+7 903 555-12-34"}, stop_before="email"
    )
    out = await qualify(admin.http, tapped={"budget_status": ["none"]})
    return sql, half, out


async def test_leads_are_listed_newest_first_by_filter_and_page(admin: Admin) -> None:
    sql, half, out = await three_leads(admin)
    cards = [await admin.lead_of(p) for p in (sql, half, out)]
    ids = [c["lead"]["id"] for c in cards]
    assert [c["lead"]["stage"] for c in cards] == ["sql", "in_progress", "disqualified"]

    everything = (await admin.get("/v1/leads")).json()
    assert [lead["id"] for lead in everything["items"]] == ids[::-1]
    assert everything["next_cursor"] is None

    first = (await admin.get("/v1/leads", limit=2)).json()
    assert [lead["id"] for lead in first["items"]] == ids[:0:-1]
    rest = (await admin.get("/v1/leads", limit=2, cursor=first["next_cursor"])).json()
    assert [lead["id"] for lead in rest["items"]] == ids[:1]
    assert rest["next_cursor"] is None

    def listed(**params: Any) -> Any:
        return admin.get("/v1/leads", **params)

    assert [x["id"] for x in (await listed(stage="sql")).json()["items"]] == [ids[0]]
    assert [x["id"] for x in (await listed(stage="disqualified")).json()["items"]] == [ids[2]]
    tier = cards[0]["lead"]["tier"]
    assert tier in ("A", "B", "C")
    assert ids[0] in [x["id"] for x in (await listed(tier=tier)).json()["items"]]
    assert len((await listed(flow="bant")).json()["items"]) == 3
    assert (await listed(flow="meddic")).json()["items"] == []
    assert len((await listed(channel="web")).json()["items"]) == 3
    assert (await listed(channel="telegram")).json()["items"] == []
    today = datetime.now(UTC).date()
    assert len((await listed(since=today.isoformat())).json()["items"]) == 3
    assert (await listed(since=(today + timedelta(days=1)).isoformat())).json()["items"] == []
    assert (await listed(until=today.isoformat())).json()["items"] == []
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert (
        len((await listed(since=an_hour_ago, until=(today + timedelta(days=1)).isoformat())).json()["items"])
        == 3
    )
    summary = everything["items"][-1]
    assert summary["contact"]["name"] == "Иван Петров"
    assert summary["contact"]["phone"] == "+79161234567"
    assert summary["flow"] == "bant"
    assert summary["channel"] == "web"


async def test_a_lead_card_reads_as_a_sales_rep_needs_it(admin: Admin) -> None:
    receiver = await Receiver().start()
    try:
        await admin.post("/v1/webhooks", {"url": receiver.url, "events": ["lead.sql"]})
        played = await qualify(admin.http, visitor_id="visitor-ivan-0001")
        await receiver.wait_for(1)
        card = await admin.lead_of(played)
        card = await eventually(lambda: _with_delivery(admin, card["lead"]["id"]))
    finally:
        await receiver.close()

    lead = card["lead"]
    assert lead["stage"] == "sql"
    assert lead["contact"] == {
        "name": "Иван Петров",
        "email": "ivan.petrov@romashka.ru",
        "phone": "+79161234567",
        "company": None,
    }
    assert {(i["kind"], i["value"]) for i in card["identities"]} >= {
        ("web_visitor", "visitor-ivan-0001"),
        ("email", "ivan.petrov@romashka.ru"),
        ("phone", "+79161234567"),
    }
    [conversation] = card["conversations"]
    assert conversation["id"] == played.conversation_id
    assert conversation["done"] is True
    assert conversation["flow"] == "bant"
    assert conversation["locale"] == "ru"
    assert conversation["source"]["utm"] == {"source": "yandex", "medium": "cpc"}
    assert conversation["source"]["landing_page"] == "https://romashka.ru/pricing"
    assert conversation["source"]["pages_seen"] == 1
    answers = {a["question_id"]: a for a in conversation["answers"]}
    assert [a["question_id"] for a in conversation["answers"]] == played.asked
    budget = answers["budget_amount"]
    assert budget["text"] == "около 2 млн руб"
    assert budget["value"]["min"] == 2_000_000
    assert budget["question"], "the question as the person saw it"
    assert answers["next_step"]["value"] == ["demo"]
    score = conversation["score"]
    assert score["total"] == lead["score"] == sum(line["points"] for line in score["breakdown"])
    assert score["tier"] == lead["tier"]
    assert all(line["reason"] for line in score["breakdown"]), "every point says where it came from"
    budget_line = next(line for line in score["breakdown"] if line["source"] == "budget_amount")
    assert budget_line["answer"] == "около 2 млн руб"
    transcript = [(line["sender"], line["text"]) for line in conversation["transcript"]]
    assert transcript[0][0] == "bot"
    assert transcript[0][1].startswith("Здравствуйте")
    assert ("visitor", "около 2 млн руб") in transcript
    assert ("visitor", "Да, утверждён") in transcript, "a tap is shown by its label"
    [delivery] = card["deliveries"]
    assert delivery["type"] == "lead.sql"
    assert delivery["status"] == "delivered"
    assert card["candidates"] == []


async def _with_delivery(admin: Admin, lead_id: str) -> dict[str, Any] | None:
    card: dict[str, Any] = (await admin.get(f"/v1/leads/{lead_id}")).json()
    done = [d for d in card["deliveries"] if d["status"] == "delivered"]
    return card if done else None


async def test_the_csv_opens_in_a_spreadsheet_with_cyrillic_and_no_formulas(admin: Admin) -> None:
    sql, _half, _out = await three_leads(admin)
    sql_card = await admin.lead_of(sql)
    lead_id = sql_card["lead"]["id"]
    reported = await admin.post(f"/v1/leads/{lead_id}/outcome", {"status": "sal", "reason": HOSTILE_REASON})
    assert reported.json()["applied"] is True

    reply = await admin.get("/v1/leads.csv")
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "text/csv; charset=utf-8"
    assert reply.headers["content-disposition"].startswith('attachment; filename="leads-')
    rows = read_csv(reply.content)
    assert len(rows) == 3
    by_id = {row["Lead id"]: row for row in rows}
    ivan = by_id[lead_id]
    assert ivan["Name"] == "Иван Петров"
    assert ivan["E-mail"] == "ivan.petrov@romashka.ru"
    assert ivan["Phone"] == "'+79161234567", "a leading + would start a formula"
    assert ivan["Stage"] == "sal"
    assert ivan["Score"] == str(sql_card["lead"]["score"])
    assert ivan["Flow"] == "bant"
    assert ivan["Channel"] == "web"
    assert ivan["CRM outcome reason"] == "'" + HOSTILE_REASON
    created = datetime.strptime(ivan["Created (UTC)"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    assert abs(created - datetime.fromisoformat(sql_card["lead"]["created_at"])) < timedelta(seconds=1)
    assert ivan["CRM outcome (UTC)"]
    names = {row["Name"] for row in rows}
    assert names == {"Иван Петров", "Мария Сидорова", ""}, "the knocked-out lead never gave a name"
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@")), value

    semicolons = await admin.get("/v1/leads.csv", delimiter="semicolon", stage="sal")
    [only] = read_csv(semicolons.content, ";")
    assert only["Lead id"] == lead_id
    assert only["CRM outcome reason"] == "'" + HOSTILE_REASON

    assert len(read_csv((await admin.get("/v1/leads.csv", limit=1)).content)) == 1
    assert read_csv((await admin.get("/v1/leads.csv", channel="telegram")).content) == []


def test_a_text_cell_never_starts_a_formula() -> None:
    for hostile in ("=1+1", "+7 916", "-2", "@SUM(A1)", "\t=1", "\r=1"):
        assert text_cell(hostile) == "'" + hostile
    assert text_cell("Иван") == "Иван"
    assert text_cell("") == ""
    assert text_cell(None) == ""
    assert text_cell("a=b") == "a=b"
