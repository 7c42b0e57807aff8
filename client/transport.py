"""httpx's exceptions, each mapped to ours: the one table that decides "sent or not".

Only what httpx documents as "nothing went out" becomes `ConnectError` (retried even for a write
that is not safe to repeat): the connection never opened (`ConnectError`, `ConnectTimeout`) or no
connection was ever handed out (`PoolTimeout`). Everything else that breaks an exchange may have
reached the server, so an unsafe write is never repeated after it; that includes any httpx error
this table does not know (a newer httpx), which maps to `ExchangeFailed` through its base class.

The table lists every exception type httpx 0.28 exports (a test keeps it exhaustive); the lookup
walks the raised type's MRO, so a subclass httpx adds later lands on its nearest listed base.
"""

from __future__ import annotations

import httpx

from client import errors as E
from client.redaction import scrub_signed, scrub_text

HTTPX_ERRORS: dict[type[BaseException], type[E.SpotDraftError]] = {
    # Provably not sent: no connection was opened or handed out.
    httpx.ConnectError: E.ConnectError,
    httpx.ConnectTimeout: E.ConnectError,
    httpx.PoolTimeout: E.ConnectError,
    # Sent, or partly sent, and no answer in time.
    httpx.ReadTimeout: E.RequestTimeout,
    httpx.WriteTimeout: E.RequestTimeout,
    httpx.TimeoutException: E.RequestTimeout,  # a timeout of a kind not listed: may have been sent
    # The connection broke while the request or the answer was on the wire.
    httpx.ReadError: E.ConnectionDropped,
    httpx.WriteError: E.ConnectionDropped,
    httpx.CloseError: E.ConnectionDropped,
    httpx.NetworkError: E.ConnectionDropped,
    httpx.RemoteProtocolError: E.ConnectionDropped,  # the server hung up or spoke broken HTTP
    # Anything else in the exchange: may have gone out, so never "not sent".
    httpx.LocalProtocolError: E.ExchangeFailed,
    httpx.ProtocolError: E.ExchangeFailed,
    httpx.ProxyError: E.ExchangeFailed,
    httpx.UnsupportedProtocol: E.ExchangeFailed,
    httpx.TransportError: E.ExchangeFailed,
    httpx.RequestError: E.ExchangeFailed,
    httpx.HTTPError: E.ExchangeFailed,
    httpx.StreamError: E.ExchangeFailed,  # ResponseNotRead, StreamConsumed, ...: a body we cannot use
    httpx.RequestNotRead: E.ExchangeFailed,
    httpx.ResponseNotRead: E.ExchangeFailed,
    httpx.StreamClosed: E.ExchangeFailed,
    httpx.StreamConsumed: E.ExchangeFailed,
    # An answer arrived but is unusable (bad gzip): the request was acted on.
    httpx.DecodingError: E.MalformedResponseError,
    # Not raised with follow_redirects=False, listed so the table is whole.
    httpx.TooManyRedirects: E.RedirectError,
    httpx.HTTPStatusError: E.UnexpectedStatusError,  # only raise_for_status() raises it; we never call it
    # Raised before anything is sent.
    httpx.InvalidURL: E.InvalidRequestError,
    httpx.CookieConflict: E.InvalidRequestError,
}


def our_error_type(exc: BaseException) -> type[E.SpotDraftError] | None:
    """Our type for an httpx exception (its nearest listed base), or None when it is not httpx's."""
    for cls in type(exc).__mro__:
        if cls in HTTPX_ERRORS:
            return HTTPX_ERRORS[cls]
    return None


def translate(exc: BaseException, context: E.ErrorContext) -> E.SpotDraftError:
    """Our typed error for an httpx exception, with the request's context and no secret in its text."""
    cls = our_error_type(exc) or E.ExchangeFailed
    text = scrub_signed(scrub_text(str(exc)))  # an httpx message may quote a URL: never its query
    name = type(exc).__name__
    detail = name if not text or text == name else f"{name}: {text}"
    return cls(detail, context)


# Every exception httpx can raise at us: `except` clauses around a send catch exactly these.
HTTPX_EXCEPTIONS: tuple[type[BaseException], ...] = tuple(HTTPX_ERRORS)
