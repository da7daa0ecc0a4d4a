"""The widget's files as a site gets them: size budgets (gzipped), caching, no markup sinks in the
code, and the demo page's strict Content-Security-Policy."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import httpx

from flows.spec import LIBRARY

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "api" / "static"
LOADER_BUDGET = 5 * 1024
CHAT_BUDGET = 35 * 1024
# Ways to turn text into markup or code, or to set styles a strict policy forbids.
SINKS = (
    "innerHTML",
    "outerHTML",
    "insertAdjacentHTML",
    "document.write",
    "eval(",
    "new Function",
    'setAttribute("style"',
    ".cssText",
    'setTimeout("',
)


async def test_the_loader_and_the_whole_chat_stay_in_budget(edge: httpx.AsyncClient) -> None:
    loader = await edge.get("/widget.js", headers={"Accept-Encoding": "gzip"})
    assert loader.status_code == 200
    assert loader.headers["content-type"].startswith("text/javascript")
    assert loader.headers["content-encoding"] == "gzip"
    name = re.search(r'"(chat\.[0-9a-f]{12}\.js)"', loader.text)
    assert name is not None, "the loader names the chat by its content hash"
    chat = await edge.get(f"/widget/{name.group(1)}", headers={"Accept-Encoding": "gzip"})
    assert chat.status_code == 200
    loader_gz = len(gzip.compress(loader.content, 9))
    chat_gz = len(gzip.compress(chat.content, 9))
    assert int(loader.headers["content-length"]) <= LOADER_BUDGET
    assert loader_gz <= LOADER_BUDGET, f"loader {loader_gz} B gzipped"
    assert loader_gz + chat_gz <= CHAT_BUDGET, f"loader + chat {loader_gz + chat_gz} B gzipped"


async def test_caching(edge: httpx.AsyncClient) -> None:
    loader = await edge.get("/widget.js")
    assert loader.headers["cache-control"] == "public, max-age=300"
    assert loader.headers["cross-origin-resource-policy"] == "cross-origin"
    again = await edge.get("/widget.js", headers={"If-None-Match": loader.headers["etag"]})
    assert again.status_code == 304
    name = re.search(r'"(chat\.[0-9a-f]{12}\.js)"', loader.text)
    assert name is not None
    chat = await edge.get(f"/widget/{name.group(1)}")
    assert "immutable" in chat.headers["cache-control"]
    older = await edge.get("/widget/chat.000000000000.js")
    assert older.status_code == 200, "a page with an older loader still gets the chat"
    assert "immutable" not in older.headers["cache-control"]
    assert (await edge.get("/widget/other.js")).status_code == 404


def test_the_widget_never_writes_markup_or_evaluates_code() -> None:
    for name in ("widget.js", "chat.js"):
        code = (STATIC / name).read_text(encoding="utf-8")
        for sink in SINKS:
            assert sink not in code, f"{name} uses {sink}"


async def test_the_demo_page_is_under_a_strict_policy(edge: httpx.AsyncClient) -> None:
    page = await edge.get("/demo?flow=champ&locale=en")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy
    nonce = re.search(r"'nonce-([A-Za-z0-9_-]+)'", policy)
    assert nonce is not None
    scripts = re.findall(r"<script([^>]*)>", page.text)
    assert scripts
    assert all(f'nonce="{nonce.group(1)}"' in attrs for attrs in scripts)
    assert 'data-flow="champ"' in page.text
    assert 'data-locale="en"' in page.text
    for flow_id in LIBRARY:
        assert f'<option value="{flow_id}"' in page.text, "every shipped flow is offered"
    assert '<option value="champ" selected>' in page.text
    assert (await edge.get("/demo")).headers["content-security-policy"] != policy, "a fresh nonce per page"


async def test_the_demo_page_takes_only_known_flows(edge: httpx.AsyncClient) -> None:
    page = await edge.get("/demo", params={"flow": '"><script>alert(1)</script>'})
    assert page.status_code == 200
    assert "<script>alert(1)" not in page.text
    assert 'data-flow="bant"' in page.text
    assert (await edge.get("/demo", params={"locale": "de"})).status_code == 422
    assert (await edge.get("/")).headers["location"] == "/demo"
