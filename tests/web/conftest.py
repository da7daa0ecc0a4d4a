"""Browser tests of the widget: Debian's Chromium driven by Playwright (never a downloaded
browser), against a real ``qualibot serve`` on 127.0.0.1 (one per test module) and, for the
embedding site, a second local origin with a strict Content-Security-Policy.

Without /usr/bin/chromium the tests are skipped, unless ``QUALIBOT_REQUIRE_BROWSER=1`` (CI), which
makes that a failure. Screenshots go to ``build/artifacts/``."""

from __future__ import annotations

import os
import sqlite3
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, Playwright, expect, sync_playwright

from flows.spec import FlowSpec, load_library_flow
from tests.server import ROOT, Server, free_port, serve
from tests.visitor import Answer, answer

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = ROOT / "build" / "artifacts"
AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
REQUIRE = os.environ.get("QUALIBOT_REQUIRE_BROWSER") == "1"
BOT = "qualibot_demo_bot"
WAIT_MS = 10_000
NONCE = "c2l0ZS1ub25jZQ"
THEMED = "/themed"


# Module-scoped: Playwright's sync API keeps an event loop running in this thread while it is
# open, and tests elsewhere start loops of their own.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        reason = "no /usr/bin/chromium (apt-get install -y chromium)"
        if REQUIRE:
            pytest.fail(f"{reason}; QUALIBOT_REQUIRE_BROWSER=1")
        pytest.skip(reason)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, timeout=30_000)
    try:
        yield chromium
    finally:
        chromium.close()


@dataclass(frozen=True, slots=True)
class Site:
    """The embedding site: another origin than the bot's, with a strict CSP."""

    url: str
    server: Server


def site_page(bot: str, path: str, origin: str) -> bytes:
    if path == THEMED:
        return themed_page(bot, origin)
    title = {"/": "Главная", "/pricing": "Цены"}.get(path, "Страница")
    return f"""<!doctype html><html lang="ru"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title></head>
<body><main><h1>{title}</h1><p>Сайт, на котором стоит чат.</p><a href="/pricing">Цены</a></main>
<script src="{bot}/widget.js" data-flow="bant" data-locale="ru" nonce="{NONCE}" async></script>
</body></html>""".encode()


def themed_page(bot: str, origin: str) -> bytes:
    """An English site that themes the widget: its data- attributes and CSS custom properties."""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Acme</title>
<style nonce="{NONCE}">html {{ --qualibot-bg: #fef3c7; --qualibot-radius: 4px }}</style></head>
<body><main><h1>Acme</h1><p>A site that themes the chat.</p></main>
<script src="{bot}/widget.js" data-flow="bant" data-locale="en" data-color="#0f766e" data-position="left"
 data-title="Acme sales" data-avatar="{origin}/avatar.png" nonce="{NONCE}" async></script>
</body></html>""".encode()


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A plain-coloured PNG (the themed site's avatar)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def site_policy(bot: str, path: str = "/") -> str:
    # The themed page styles itself with a nonce and shows its own avatar; the others use no style.
    styles, images = (f"'nonce-{NONCE}'", f"{bot} 'self'") if path == THEMED else ("'none'", bot)
    return (
        f"default-src 'none'; script-src {bot} 'nonce-{NONCE}'; connect-src {bot}; img-src {images}; "
        f"style-src {styles}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; "
        "require-trusted-types-for 'script'; trusted-types qualibot"
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """``qualibot serve`` plus a local site at another origin that embeds its widget."""
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    workdir = tmp_path_factory.mktemp("web")
    with serve(
        workdir,
        allowed_origins=origin,
        telegram_bot_username=BOT,
        rate_start="200/minute",
        rate_ip="2000/minute",
        rate_conversation="300/minute",
    ) as bot:

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                if path == "/avatar.png":
                    body, kind = png(40, 40, (234, 88, 12)), "image/png"
                else:
                    body, kind = site_page(bot.url, path, origin), "text/html; charset=utf-8"
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Security-Policy", site_policy(bot.url, path))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: ARG002  (the test log stays quiet)
                return

        httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield Site(origin, bot)
        finally:
            httpd.shutdown()
            httpd.server_close()
            thread.join(timeout=5)


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    created = browser.new_context(viewport={"width": 1280, "height": 800}, locale="ru-RU")
    created.set_default_timeout(WAIT_MS)
    # Nothing may leave 127.0.0.1: the Telegram link is answered locally.
    created.route("https://t.me/**", lambda route: route.fulfill(status=200, body="telegram"))
    try:
        yield created
    finally:
        created.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture(scope="session")
def bant() -> FlowSpec:
    return load_library_flow("bant")


class Chat:
    """The widget on a page, as a visitor (and a test) sees it."""

    def __init__(self, page: Page, bot: str, flow: str = "bant", locale: str = "ru") -> None:
        self.page = page
        self.bot = bot
        self.key = f"qualibot:{flow}:{locale}"
        self.root = page.locator("div[data-qualibot]")
        self.launcher = page.locator("div[data-qualibot] .launcher")
        self.panel = page.locator("div[data-qualibot] .panel")
        self.log = page.locator("div[data-qualibot] [role=log]")
        self.choices = page.locator("div[data-qualibot] .choices")
        self.input = page.locator("div[data-qualibot] .composer input")
        self.status = page.locator("div[data-qualibot] [role=status]")
        self.subtitle = page.locator("div[data-qualibot] .titles p")

    def open(self) -> None:
        self.launcher.click()
        expect(self.panel).to_be_visible()
        self.settle()

    def settle(self) -> None:
        """Wait until the bot has answered and nothing is on its way."""
        expect(self.page.locator("div[data-qualibot] .typing")).to_have_count(0)
        expect(self.page.locator("div[data-qualibot] .me.pending")).to_have_count(0)

    def lines(self) -> list[tuple[str, str]]:
        out = []
        for node in self.log.locator(".msg").all():
            cls = node.get_attribute("class") or ""
            who = "me" if " me" in f" {cls}" else "sys" if "sys" in cls else "bot"
            out.append((who, node.text_content() or ""))
        return out

    def saved(self) -> dict[str, Any]:
        data: dict[str, Any] | None = self.page.evaluate(
            f"() => JSON.parse(localStorage.getItem({self.key!r}))"
        )
        assert data is not None, "the widget keeps its conversation once the chat is open"
        return data

    def state(self) -> dict[str, Any]:
        saved = self.saved()
        reply = httpx.get(
            f"{self.bot}/v1/conversations/{saved['id']}",
            headers={"Authorization": f"Bearer {saved['token']}"},
            timeout=10,
        )
        assert reply.status_code == 200, reply.text
        data: dict[str, Any] = reply.json()
        return data

    def button(self, label: str) -> Locator:
        return self.choices.get_by_role("button", name=label, exact=True)

    def say(self, text: str) -> None:
        self.input.fill(text)
        self.input.press("Enter")

    def pick(self, spec: FlowSpec, turn: int) -> tuple[Answer, dict[str, Any]]:
        """What a visitor answers to the waiting question (a tap or typing), and its reply."""
        state = self.state()
        reply: dict[str, Any] = state["replies"][-1]
        return answer(spec, state["state"]["question_id"], reply, turn), reply

    def perform(self, picked: Answer, reply: dict[str, Any]) -> None:
        if picked.tap is not None:
            self.button(picked.label).click()
            if reply["multi"]:
                self.button("Готово").click()
        else:
            self.say(picked.label)

    def answer(self, spec: FlowSpec, turn: int) -> str:
        """Answer the waiting question and wait for the bot; what the visitor said."""
        picked, reply = self.pick(spec, turn)
        self.perform(picked, reply)
        self.settle()
        return picked.label

    def play(self, spec: FlowSpec, turns: int = 40, first_turn: int = 0) -> list[str]:
        said = []
        for turn in range(first_turn, first_turn + turns):
            if self.state()["done"]:
                break
            said.append(self.answer(spec, turn))
        return said


def database_rows(server: Server, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{server.database}?mode=ro", uri=True) as conn:
        return conn.execute(query, args).fetchall()


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), animations="disabled")
    return path
