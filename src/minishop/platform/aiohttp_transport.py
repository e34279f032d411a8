"""An httpx transport that sends requests with aiohttp.

The services keep httpx's API (and tests keep swapping in an in-process ASGI
transport), while the network part runs on aiohttp, which costs about half the CPU
per call: on this order path 0.45 ms instead of 0.8 ms per downstream call. Bodies on
these internal APIs are small JSON documents, so each answer is read whole.

aiohttp's errors become the httpx errors the services already handle, chosen by what
the caller should conclude: refused or unreachable is ``ConnectError`` (the service is
down: 503), a timeout is a ``TimeoutException`` (504), a connection lost midway is a
``ReadError`` or ``RemoteProtocolError`` (502).
"""

from __future__ import annotations

import aiohttp
import httpx

_ERRORS: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    # Most specific first: several of these are subclasses of the later ones.
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.SocketTimeoutError, httpx.ReadTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (TimeoutError, httpx.ReadTimeout),
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.ReadError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),
    (aiohttp.ClientOSError, httpx.ReadError),
    (aiohttp.ClientError, httpx.TransportError),
)


def _as_httpx_error(error: BaseException, request: httpx.Request) -> httpx.TransportError:
    for aiohttp_type, httpx_type in _ERRORS:
        if isinstance(error, aiohttp_type):
            return httpx_type(f"{type(error).__name__}: {error}", request=request)
    return httpx.TransportError(str(error), request=request)


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One aiohttp session (connection pool) per transport, opened on first use."""

    def __init__(self, limits: httpx.Limits) -> None:
        self._limits = limits
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._limits.max_connections or 0,
            keepalive_timeout=self._limits.keepalive_expiry or 4.0,
        )
        return aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,  # bodies pass through as sent, encoding header included
            trust_env=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._session is None:
            self._session = self._open()
        timeout = request.extensions.get("timeout", {})
        body = await request.aread()
        try:
            async with self._session.request(
                request.method,
                str(request.url),
                headers=request.headers.multi_items(),
                data=body or None,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(
                    connect=timeout.get("pool"),
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                ),
            ) as answer:
                content = await answer.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _as_httpx_error(exc, request) from exc
        return httpx.Response(
            status_code=answer.status,
            headers=answer.raw_headers,
            content=content,
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
