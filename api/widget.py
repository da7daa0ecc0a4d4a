"""The widget's files and the demo page.

``/widget.js`` is the loader a site includes (short cache: sites embed this fixed URL);
``/widget/chat.<hash>.js`` is the chat it fetches on first use (named by its content, cached for
a year). Both are kept in memory, gzipped once at start-up. ``/demo`` is a plain page that embeds
the widget under a strict Content-Security-Policy, with a flow and language switcher.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import re
import secrets
from dataclasses import dataclass
from importlib import resources
from string import Template

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from api.errors import ApiError
from flows.catalog import FlowCatalog
from flows.errors import FlowNotFound

LOADER_CACHE = "public, max-age=300"
IMMUTABLE = "public, max-age=31536000, immutable"
JS = "text/javascript; charset=utf-8"
DEMO_CSP = (
    "default-src 'none'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; "
    "require-trusted-types-for 'script'; trusted-types qualibot"
)
DEMO_TEXTS = {
    "ru": {
        "lead": "Это демонстрационная страница. Чат в правом нижнем углу проводит квалификацию по сценарию",
        "flow": "Сценарий",
        "language": "Язык",
        "apply": "Показать",
        "open": "Открыть чат",
        "embed": "Чтобы добавить чат на свой сайт, вставьте:",
    },
    "en": {
        "lead": "This is a demo page. The chat in the bottom right corner qualifies you with the flow",
        "flow": "Flow",
        "language": "Language",
        "apply": "Show",
        "open": "Open the chat",
        "embed": "To add the chat to your site, paste:",
    },
}
LANGUAGES = {"ru": "Русский", "en": "English"}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    gzipped: bytes
    etag: str
    content_type: str
    cache_control: str

    @classmethod
    def of(cls, body: bytes, content_type: str, cache_control: str) -> Asset:
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        return cls(body, gzip.compress(body, 9, mtime=0), etag, content_type, cache_control)

    def response(self, request: Request) -> Response:
        headers = {
            "Cache-Control": self.cache_control,
            "ETag": self.etag,
            "Vary": "Accept-Encoding",
            "Cross-Origin-Resource-Policy": "cross-origin",
            "X-Content-Type-Options": "nosniff",
        }
        if request.headers.get("if-none-match") == self.etag:
            return Response(status_code=304, headers=headers)
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return Response(self.gzipped, headers=headers, media_type=self.content_type)
        return Response(self.body, headers=headers, media_type=self.content_type)


def _static(name: str) -> str:
    return resources.files("api").joinpath("static", name).read_text(encoding="utf-8")


class Widget:
    """The assets, built once per process, and the flows the demo page offers."""

    def __init__(self, catalog: FlowCatalog) -> None:
        self.catalog = catalog
        chat = _static("chat.js").encode()
        self.chat_file = f"chat.{hashlib.sha256(chat).hexdigest()[:12]}.js"
        self.chat = Asset.of(chat, JS, IMMUTABLE)
        self.chat_stale = Asset.of(chat, JS, LOADER_CACHE)
        loader = _static("widget.js").replace("__CHAT_FILE__", self.chat_file)
        self.loader = Asset.of(loader.encode(), JS, LOADER_CACHE)
        self.demo_css = Asset.of(_static("demo.css").encode(), "text/css; charset=utf-8", LOADER_CACHE)
        self.demo_template = Template(_static("demo.html"))

    def flows(self, locale: str) -> list[tuple[str, str]]:
        """(id, title) of every flow that speaks ``locale``."""
        specs = [entry.spec for entry in self.catalog.flows()]
        return [(spec.id, spec.title.get(locale) or spec.id) for spec in specs if locale in spec.locales]

    def demo(self, request: Request, flow: str, locale: str) -> Response:
        flows = self.flows(locale)
        if not flows:
            raise ApiError(404, "no_flows", f"no flow speaks {locale!r}")
        ids = [flow_id for flow_id, _ in flows]
        if flow not in ids:
            flow = "bant" if "bant" in ids else ids[0]
        title = dict(flows)[flow]
        nonce = secrets.token_urlsafe(18)
        origin = f"{request.url.scheme}://{request.url.netloc}"
        texts = DEMO_TEXTS[locale]
        snippet = (
            f'<script src="{origin}/widget.js" data-flow="{flow}" data-locale="{locale}" async></script>'
        )
        page = self.demo_template.substitute(
            lang=locale,
            nonce=nonce,
            flow=html.escape(flow),
            locale=locale,
            title=html.escape(title),
            lead=html.escape(texts["lead"]),
            flow_label=html.escape(texts["flow"]),
            language_label=html.escape(texts["language"]),
            apply=html.escape(texts["apply"]),
            open=html.escape(texts["open"]),
            embed=html.escape(texts["embed"]),
            snippet=html.escape(snippet),
            flow_options="".join(_option(i, t, i == flow) for i, t in flows),
            locale_options="".join(_option(code, name, code == locale) for code, name in LANGUAGES.items()),
        )
        headers = {
            "Content-Security-Policy": DEMO_CSP.format(nonce=nonce),
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "strict-origin-when-cross-origin",
        }
        return Response(page, headers=headers, media_type="text/html; charset=utf-8")


def _option(value: str, label: str, selected: bool) -> str:
    chosen = " selected" if selected else ""
    return f'<option value="{html.escape(value)}"{chosen}>{html.escape(label)}</option>'


def widget(request: Request) -> Widget:
    state: Widget = request.app.state.widget
    return state


router = APIRouter(tags=["widget"])


@router.get("/widget.js", summary="The widget loader a site includes", response_class=Response)
async def loader(request: Request) -> Response:
    return widget(request).loader.response(request)


@router.get(
    "/widget/{name}",
    summary="The chat the loader fetches on first use",
    response_class=Response,
    responses={404: {"description": "No such file"}},
)
async def chat_script(name: str, request: Request) -> Response:
    assets = widget(request)
    if name == assets.chat_file:
        return assets.chat.response(request)
    if re.fullmatch(r"chat\.[0-9a-f]{12}\.js", name):
        # A page still holding an older loader: serve today's chat, without the long cache.
        return assets.chat_stale.response(request)
    raise ApiError(404, "not_found", "no such file")


@router.get("/demo.css", include_in_schema=False)
async def demo_css(request: Request) -> Response:
    return widget(request).demo_css.response(request)


@router.get("/demo", summary="A demo page embedding the widget", response_class=Response)
async def demo(
    request: Request,
    flow: str = Query("bant", max_length=64),
    locale: str = Query("ru", pattern="^(ru|en)$"),
) -> Response:
    try:
        return widget(request).demo(request, flow, locale)
    except FlowNotFound as exc:
        raise ApiError(404, "unknown_flow", str(exc)) from None


@router.get("/", include_in_schema=False)
async def home() -> RedirectResponse:
    return RedirectResponse("/demo", status_code=307)
