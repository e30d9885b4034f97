"""Middleware around both faces: no client identifiers in, security headers and relative redirects out, bodies bounded."""

from urllib.parse import urlsplit, urlunsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cases.errors import TooLarge

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}
# Headers that identify the client or its network. Dropped before any of our
# code (or a library's logging) can see them.
IDENTIFYING_HEADERS = {
    b"user-agent",
    b"x-forwarded-for",
    b"x-real-ip",
    b"forwarded",
    b"via",
    b"true-client-ip",
    b"cf-connecting-ip",
    b"x-client-ip",
    b"referer",
}


class Anonymise:
    """Strip the client address and identifying headers from every request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in {"http", "websocket"}:
            scope = dict(scope, client=None)
            scope["headers"] = [(k, v) for k, v in scope["headers"] if k not in IDENTIFYING_HEADERS]
        await self.app(scope, receive, send)


def relative_location(location: bytes) -> bytes:
    """A redirect's target as a path on this site: never a scheme or host (which Starlette builds
    from the Host header when it adds or drops a trailing slash), never ``//`` or ``/\\`` (which a
    browser reads as another host)."""
    parts = urlsplit(location.decode("latin-1"))
    path = "/" + parts.path.replace("\\", "%5C").lstrip("/")
    return urlunsplit(("", "", path, parts.query, parts.fragment)).encode("latin-1")


class SecurityHeaders:
    """Add the security headers to every response, errors included; make every redirect relative."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, relative_location(v) if k.lower() == b"location" else v) for k, v in message.get("headers", [])]
                present = {k.lower() for k, _ in headers}
                extra = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items() if k.encode() not in present]
                message = dict(message, headers=[*headers, *extra])
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with ``TooLarge``, before reading them all."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        received = 0
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        # bytes.isdigit() is ASCII only; past 18 digits int() would only say "too large" slowly (or refuse).
        too_large = not declared.isdigit() or len(declared) > 18 or int(declared) > self.limit

        async def limited_receive() -> Message:
            nonlocal received
            if too_large:
                raise TooLarge()
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise TooLarge()
            return message

        await self.app(scope, limited_receive, send)
