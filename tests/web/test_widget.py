"""The widget in a real browser: the demo page, a whole BANT conversation in Russian, reload and
resume, a dropped network, keyboard use, accessibility (axe-core), a phone with its on-screen
keyboard, a strict-CSP site on another origin, page views, the Telegram handover and hostile text."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Dialog, Page, Request, Route, expect

from flows.spec import FlowSpec
from tests.web.conftest import AXE, BOT, THEMED, Chat, Site, database_rows, screenshot

XSS = [
    "<script>window.__xss = 1</script>",
    '<img src=x onerror="window.__xss = 1">',
    '"><svg onload="window.__xss = 1">',
    "javascript:window.__xss = 1",
    "{{constructor.constructor('window.__xss = 1')()}}",
    "\u202eтекст задом наперёд\u202c и \u2067rtl\u2069",
    "😀" * 2560,  # 10 KB of emoji
    "👩‍👩‍👧‍👦🇷🇺" * 300,
]


def demo(page: Page, site: Site, query: str = "flow=bant&locale=ru") -> Chat:
    page.goto(f"{site.server.url}/demo?{query}")
    return Chat(page, site.server.url)


def test_nothing_happens_before_the_visitor_opens_the_chat(page: Page, site: Site) -> None:
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    chat = demo(page, site)
    expect(chat.launcher).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert page.evaluate("() => localStorage.length") == 0
    assert not [u for u in asked if "/v1/" in u or "/widget/chat." in u], asked

    with page.expect_request("**/widget/chat.*.js"):
        chat.launcher.hover()  # hovering the launcher fetches the chat, and nothing else
    page.wait_for_load_state("networkidle")
    assert not [u for u in asked if "/v1/" in u]
    assert page.evaluate("() => localStorage.length") == 0

    chat.open()
    assert [u for u in asked if u.endswith("/v1/conversations")]
    assert chat.saved()["id"]


def test_a_whole_bant_conversation_in_russian(page: Page, site: Site, bant: FlowSpec) -> None:
    chat = demo(page, site)
    chat.open()
    lines = chat.lines()
    assert lines[0][0] == "bot"
    assert lines[0][1].startswith("Здравствуйте")
    expect(chat.subtitle).to_have_text("Вопрос 1 из " + str(chat.state()["state"]["progress"]["total"]))
    said = chat.play(bant, turns=3)
    screenshot(page, "widget-desktop")
    said += chat.play(bant, first_turn=3)
    final = chat.state()
    assert final["done"] is True
    mine = [text for who, text in chat.lines() if who == "me"]
    assert mine == said, "every answer shown once, in order"
    assert sum(1 for m in final["messages"] if m["sender"] == "visitor") == len(said)
    assert chat.lines()[-1] == ("bot", final["replies"][-1]["text"])
    expect(chat.subtitle).to_have_text("Спасибо!")
    expect(chat.input).to_be_hidden()
    expect(chat.button("Начать заново")).to_be_visible()
    screenshot(page, "widget-desktop-done")


def test_a_reload_mid_way_resumes_where_it_stopped(page: Page, site: Site, bant: FlowSpec) -> None:
    chat = demo(page, site)
    chat.open()
    chat.play(bant, turns=3)
    before = chat.lines()
    waiting = chat.state()["state"]
    page.reload()
    chat = Chat(page, site.server.url)
    expect(chat.panel).to_be_visible()  # it was open: it opens again, without a click
    chat.settle()
    assert chat.lines() == before
    assert chat.state()["state"] == waiting
    chat.play(bant, turns=2, first_turn=3)
    assert chat.state()["state"]["progress"]["answered"] == waiting["progress"]["answered"] + 2


def visitor_lines(state: dict[str, Any]) -> list[str]:
    return [m["text"] for m in state["messages"] if m["sender"] == "visitor"]


def test_an_answer_sent_while_offline_arrives_once(
    page: Page, context: BrowserContext, site: Site, bant: FlowSpec
) -> None:
    chat = demo(page, site)
    chat.open()
    chat.play(bant, turns=1)
    before = chat.state()
    picked, reply = chat.pick(bant, 2)
    context.set_offline(True)
    chat.perform(picked, reply)
    expect(chat.status).to_have_text("Нет связи. Переподключаемся…")
    expect(page.locator("div[data-qualibot] .me.pending")).to_have_count(1)
    page.wait_for_timeout(1500)  # a few retries fail meanwhile
    assert chat.state()["state"] == before["state"], "nothing arrived while offline"
    context.set_offline(False)
    chat.settle()
    expect(chat.status).to_be_empty()
    after = chat.state()
    assert visitor_lines(after) == [*visitor_lines(before), picked.label]
    assert after["state"]["progress"]["answered"] == before["state"]["progress"]["answered"] + 1
    assert [text for who, text in chat.lines() if who == "me"] == visitor_lines(after)


def test_an_answer_pending_at_a_reload_is_sent_after_it_once(page: Page, site: Site, bant: FlowSpec) -> None:
    chat = demo(page, site)
    chat.open()
    before = chat.state()
    picked, reply = chat.pick(bant, 0)
    keys: list[str] = []

    def unreachable(route: Route, request: Request) -> None:
        keys.append(request.headers["idempotency-key"])
        route.abort("internetdisconnected")

    page.route("**/v1/conversations/*/messages", unreachable)
    chat.perform(picked, reply)
    expect(chat.status).to_have_text("Нет связи. Переподключаемся…")
    page.reload()  # the answer is still on its way: the new page sends it again
    chat = Chat(page, site.server.url)
    expect(chat.panel).to_be_visible()
    expect(chat.status).to_have_text("Нет связи. Переподключаемся…")
    page.unroute("**/v1/conversations/*/messages")
    chat.settle()
    after = chat.state()
    assert visitor_lines(after) == [*visitor_lines(before), picked.label]
    assert [text for who, text in chat.lines() if who == "me"] == [picked.label]
    assert len(set(keys)) == 1, "the same idempotency key before and after the reload"


def test_a_lost_response_is_retried_with_the_same_key(page: Page, site: Site, bant: FlowSpec) -> None:
    """The answer reached the server but its response never came back: the widget retries with
    the same idempotency key, and the server answers the first result again."""
    chat = demo(page, site)
    chat.open()
    keys: list[str] = []

    def lose_first_response(route: Route, request: Request) -> None:
        keys.append(request.headers["idempotency-key"])
        response = route.fetch()
        if len(keys) == 1:
            assert response.status == 200
            route.abort("connectionreset")
        else:
            route.fulfill(response=response)

    page.route("**/v1/conversations/*/messages", lose_first_response)
    before = chat.state()["state"]
    chat.answer(bant, 0)
    page.unroute("**/v1/conversations/*/messages")
    assert len(keys) >= 2, keys
    assert len(set(keys)) == 1, "every try with the same idempotency key"
    after = chat.state()
    assert after["state"]["progress"]["answered"] == before["progress"]["answered"] + 1
    assert sum(1 for m in after["messages"] if m["sender"] == "visitor") == 1
    assert [who for who, _ in chat.lines()].count("me") == 1


def focused(chat: Chat) -> str:
    """What has the focus inside the widget: its class and text."""
    found: str = chat.root.evaluate(
        "h => { const e = h.shadowRoot.activeElement; return e ? e.className + ':' + e.textContent : ''; }"
    )
    return found


def test_the_keyboard_alone_is_enough(page: Page, site: Site) -> None:
    chat = demo(page, site)
    expect(chat.launcher).to_be_visible()
    for _ in range(10):  # past the page's own controls, the launcher comes last
        page.keyboard.press("Tab")
        if focused(chat).startswith("launcher"):
            break
    assert focused(chat).startswith("launcher")
    page.keyboard.press("Enter")
    expect(chat.panel).to_be_visible()
    chat.settle()
    expect(chat.launcher).to_have_attribute("aria-expanded", "true")
    labels = [b["label"] for b in chat.state()["replies"][-1]["buttons"]]
    assert focused(chat) in (":", f"choice:{labels[0]}"), (
        "focus moves into the chat: its field or first option"
    )
    chat.choices.locator("button").first.focus()
    page.keyboard.press("ArrowRight")
    assert focused(chat) == f"choice:{labels[1]}", "arrow keys move between the options"
    page.keyboard.press("Enter")
    chat.settle()
    assert ("me", labels[1]) in chat.lines()
    page.keyboard.press("Escape")
    expect(chat.panel).to_be_hidden()
    assert focused(chat).startswith("launcher"), "closing gives the focus back to the launcher"


def axe_violations(page: Page) -> list[dict[str, Any]]:
    if not AXE.exists():
        pytest.skip("axe-core is not installed (make web-tools)")
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
    ]


def test_axe_finds_no_violations_on_the_open_widget(page: Page, site: Site, bant: FlowSpec) -> None:
    # Without motion (the widget honours it), so no bubble is caught half faded in.
    page.emulate_media(reduced_motion="reduce")
    chat = demo(page, site)
    assert axe_violations(page) == [], "the closed launcher on the demo page"
    chat.open()
    assert axe_violations(page) == [], "options and an answer field"
    chat.play(bant, turns=4)
    assert axe_violations(page) == [], "further questions"
    chat.play(bant, first_turn=4)
    assert axe_violations(page) == [], "the closing"
    assert chat.log.get_attribute("aria-live") == "polite"


def test_a_phone_with_its_on_screen_keyboard(browser: Browser, site: Site, bant: FlowSpec) -> None:
    phone = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="ru-RU",
    )
    phone.set_default_timeout(10_000)
    try:
        page = phone.new_page()
        chat = demo(page, site)
        chat.launcher.tap()
        expect(chat.panel).to_be_visible()
        chat.settle()
        box = chat.panel.bounding_box()
        assert box is not None
        assert (box["x"], box["y"], box["width"], box["height"]) == (0, 0, 390, 844)
        expect(chat.launcher).to_be_hidden()
        chat.play(bant, turns=3)
        screenshot(page, "widget-mobile")
        # the on-screen keyboard takes the lower part of the screen: the field stays above it
        page.set_viewport_size({"width": 390, "height": 500})
        page.wait_for_timeout(300)
        field = chat.page.locator("div[data-qualibot] .composer").bounding_box()
        panel = chat.panel.bounding_box()
        assert panel is not None
        assert field is not None
        assert panel["height"] == 500
        assert field["y"] + field["height"] <= 500
        screenshot(page, "widget-mobile-keyboard")
        kinds = {"email": ("email", "email"), "tel": ("tel", "tel")}
        state = chat.state()
        kind = state["replies"][-1]["input"]["kind"]
        if kind in kinds:
            assert (chat.input.get_attribute("type"), chat.input.evaluate("i => i.inputMode")) == kinds[kind]
    finally:
        phone.close()


def test_the_input_matches_the_question_kind(page: Page, site: Site, bant: FlowSpec) -> None:
    chat = demo(page, site)
    chat.open()
    seen: dict[str, tuple[str | None, str]] = {}
    for turn in range(40):
        state = chat.state()
        if state["done"]:
            break
        kind = state["replies"][-1]["input"]["kind"]
        if kind != "none":
            seen[kind] = (chat.input.get_attribute("type"), chat.input.evaluate("i => i.inputMode"))
        chat.answer(bant, turn)
    assert seen.get("email") == ("email", "email")
    assert seen.get("tel") == ("tel", "tel")
    assert seen.get("money", ("text", "text"))[0] == "text"


def test_a_site_with_a_strict_policy_on_another_origin(page: Page, site: Site, bant: FlowSpec) -> None:
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => "
        "console.error('Content Security Policy: ' + e.violatedDirective + ' ' + e.blockedURI))"
    )
    page.goto(site.url + "/")
    chat = Chat(page, site.server.url)
    chat.open()
    chat.play(bant, turns=3)
    assert violations == []
    color = chat.launcher.evaluate("b => getComputedStyle(b).backgroundColor")
    assert color == "rgb(29, 78, 216)", "styles apply under style-src 'none' (constructable stylesheets)"

    page.goto(site.url + "/pricing?utm_source=ads")
    expect(Chat(page, site.server.url).panel).to_be_visible()
    conversation = chat.saved()["id"]
    deadline = 50
    rows: list[tuple[Any, ...]] = []
    while deadline and not rows:
        rows = database_rows(
            site.server,
            "SELECT name, data FROM engagement_events WHERE conversation_id = ?",
            conversation.replace("-", ""),
        )
        deadline -= 1
        page.wait_for_timeout(100)
    assert rows, "the second page was reported as a page view"
    name, data = rows[0]
    assert name == "page_view"
    assert json.loads(data)["url"] == site.url + "/pricing?utm_source=ads"
    assert json.loads(data)["title"] == "Цены"
    assert violations == []


def test_continue_in_telegram(page: Page, site: Site) -> None:
    chat = demo(page, site)
    chat.open()
    button = page.locator("div[data-qualibot] .tg")
    expect(button).to_have_text("Продолжить в Telegram")
    with page.expect_popup() as popup:
        button.click()
    assert popup.value.url.startswith(f"https://t.me/{BOT}?start=")


def test_hostile_text_is_shown_as_text(page: Page, site: Site) -> None:
    dialogs: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    chat = demo(page, site)
    chat.open()
    for text in XSS:
        chat.say(text)
        chat.settle()
    mine = [line for who, line in chat.lines() if who == "me"]
    assert mine == XSS, "every text shown exactly as typed"
    assert page.evaluate("() => window.__xss") is None
    assert dialogs == []
    tags = chat.root.evaluate(
        "host => [...host.shadowRoot.querySelectorAll('*')].map(e => e.tagName.toLowerCase())"
    )
    assert not {"script", "img", "iframe", "object", "a"} & set(tags), "nothing was injected"
    assert page.evaluate("() => document.querySelectorAll('img, iframe').length") == 0


def test_theming_and_english_texts(page: Page, site: Site) -> None:
    page.goto(f"{site.url}{THEMED}")
    chat = Chat(page, site.server.url, locale="en")
    expect(chat.launcher).to_have_attribute("aria-label", "Open the chat")
    box = chat.launcher.bounding_box()
    assert box is not None
    assert box["x"] < 100, "data-position=left puts the launcher on the left"
    assert chat.launcher.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(15, 118, 110)"
    assert chat.launcher.evaluate("b => getComputedStyle(b).color") == "rgb(255, 255, 255)", (
        "ink readable on it"
    )
    chat.open()
    expect(page.locator("div[data-qualibot] #qb-title")).to_have_text("Acme sales")
    image = page.locator("div[data-qualibot] img.avatar")
    expect(image).to_have_attribute("src", f"{site.url}/avatar.png")
    assert image.evaluate("i => i.complete && i.naturalWidth") == 40
    panel = chat.panel.evaluate(
        "p => [getComputedStyle(p).backgroundColor, getComputedStyle(p).borderRadius]"
    )
    assert panel == ["rgb(254, 243, 199)", "4px"], "CSS custom properties of the page reach the panel"
    panel_box = chat.panel.bounding_box()
    assert panel_box is not None
    assert panel_box["x"] < 100, "the panel opens on the launcher's side"
    lines = chat.lines()
    assert lines[0][0] == "bot"
    assert lines[0][1].startswith("Hi!"), "the flow speaks the page's language"
    assert lines[-1] == ("bot", chat.state()["replies"][-1]["text"])
    expect(chat.subtitle).to_have_text(f"Question 1 of {chat.state()['state']['progress']['total']}")
    expect(chat.input).to_have_attribute("placeholder", re.compile(r"[A-Za-z]"))
    screenshot(page, "widget-themed-en")
