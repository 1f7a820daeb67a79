"""HTTP server: routing, authentication, fault injection and start_emulator()."""

from __future__ import annotations

import logging
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from . import control, grants, messages, oauth, sending, webhooks_api
from .app import App, Settings
from .faults import apply_fault
from .http_types import (
    ApiError,
    OAuthError,
    Request,
    Response,
    api_error_response,
    oauth_error_response,
)
from .store import Store

logger = logging.getLogger(__name__)

Handler = Callable[[App, Request, dict[str, str]], Response]
Route = tuple[str, tuple[str, ...], Handler]
MAX_BODY_BYTES = 64 * 1024 * 1024
G = "/v3/grants/{grant}"

ROUTE_TABLE: list[tuple[str, str, Handler]] = [
    ("GET", "/v3/connect/auth", oauth.auth_page),
    ("POST", "/v3/connect/auth/decision", oauth.auth_decision),
    ("POST", "/v3/connect/token", oauth.token),
    ("POST", "/v3/connect/revoke", oauth.revoke),
    ("GET", "/v3/grants", grants.list_grants),
    ("GET", G, grants.find_grant),
    ("PATCH", G, grants.update_grant),
    ("PUT", G, grants.update_grant),
    ("DELETE", G, grants.delete_grant),
    ("GET", G + "/messages", messages.list_messages),
    ("POST", G + "/messages/send", sending.send_message),
    ("GET", G + "/messages/{message}", messages.find_message),
    ("PUT", G + "/messages/{message}", messages.update_message),
    ("DELETE", G + "/messages/{message}", messages.delete_message),
    ("GET", G + "/threads", messages.list_threads),
    ("GET", G + "/threads/{thread}", messages.find_thread),
    ("PUT", G + "/threads/{thread}", messages.update_thread),
    ("DELETE", G + "/threads/{thread}", messages.delete_thread),
    ("GET", G + "/attachments/{attachment}", messages.find_attachment),
    ("GET", G + "/attachments/{attachment}/download", messages.download_attachment),
    ("GET", "/v3/webhooks", webhooks_api.list_webhooks),
    ("POST", "/v3/webhooks", webhooks_api.create_webhook),
    ("GET", "/v3/webhooks/ip-addresses", webhooks_api.ip_addresses),
    ("POST", "/v3/webhooks/rotate-secret/{webhook}", webhooks_api.rotate_secret),
    ("PUT", "/v3/webhooks/{webhook}/rotate-secret", webhooks_api.rotate_secret),
    ("GET", "/v3/webhooks/{webhook}", webhooks_api.find_webhook),
    ("PUT", "/v3/webhooks/{webhook}", webhooks_api.update_webhook),
    ("DELETE", "/v3/webhooks/{webhook}", webhooks_api.delete_webhook),
    ("GET", "/_emulator/mailboxes", control.list_mailboxes),
    ("POST", "/_emulator/mailboxes", control.add_mailbox),
    ("GET", "/_emulator/mailboxes/{owner}/correspondents", control.list_correspondents),
    ("POST", "/_emulator/grants", control.create_grant),
    ("POST", "/_emulator/grants/{grant}/{action}", control.grant_action),
    ("POST", "/_emulator/messages/inject", control.inject_message),
    ("POST", "/_emulator/messages/{grant}/{message}/update", control.update_message),
    ("POST", "/_emulator/opens", control.open_message),
    ("POST", "/_emulator/replies", control.reply_to_message),
    ("GET", "/_emulator/faults", control.list_faults),
    ("POST", "/_emulator/faults", control.add_fault),
    ("DELETE", "/_emulator/faults", control.clear_faults),
    ("POST", "/_emulator/webhooks/pause", control.webhooks_pause),
    ("POST", "/_emulator/webhooks/resume", control.webhooks_resume),
    ("POST", "/_emulator/webhooks/chaos", control.webhooks_chaos),
    ("POST", "/_emulator/webhooks/flush", control.webhooks_flush),
    ("GET", "/_emulator/webhooks/deliveries", control.webhooks_deliveries),
    ("GET", "/_emulator/sent", control.sent_log),
    ("POST", "/_emulator/save", control.save_state),
    ("POST", "/_emulator/reset", control.reset),
]
ROUTES: list[Route] = [
    (method, tuple(pattern.strip("/").split("/")), handler)
    for method, pattern, handler in ROUTE_TABLE
]
NO_AUTH_PREFIXES = (("v3", "connect"), ("_emulator",))


def match_route(method: str, segments: list[str]) -> tuple[Handler, dict[str, str]]:
    """Find the handler. Raises 404 for unknown paths and 405 for wrong methods."""
    path_matched = False
    for route_method, pattern, handler in ROUTES:
        params = _match(pattern, segments)
        if params is None:
            continue
        path_matched = True
        if route_method == method:
            return handler, params
    if path_matched:
        raise ApiError(
            405, "invalid_request_error", f"Method {method} is not allowed here."
        )
    raise ApiError(404, "not_found_error", f"No route for /{'/'.join(segments)}.")


def _match(pattern: tuple[str, ...], segments: list[str]) -> dict[str, str] | None:
    if len(pattern) != len(segments):
        return None
    params = {}
    for expected, actual in zip(pattern, segments, strict=True):
        if expected.startswith("{"):
            params[expected[1:-1]] = actual
        elif expected != actual:
            return None
    return params


def parse_request(
    method: str, target: str, headers: dict[str, str], body: bytes
) -> Request:
    """Split the raw path before decoding, so an encoded "/" stays in its segment."""
    raw_path, _, raw_query = target.partition("?")
    segments = [urllib.parse.unquote(s) for s in raw_path.strip("/").split("/") if s]
    query: dict[str, list[str]] = {}
    for key, value in urllib.parse.parse_qsl(raw_query, keep_blank_values=True):
        query.setdefault(key, []).append(value)
    return Request(method, segments, query, headers, body)


def dispatch(app: App, request: Request) -> Response:
    """Run one request through auth, faults and routing. Never raises."""
    try:
        return _dispatch(app, request)
    except ApiError as error:
        return api_error_response(error)
    except OAuthError as error:
        return oauth_error_response(error)
    except Exception:
        logger.exception(
            "unhandled error for %s /%s", request.method, "/".join(request.segments)
        )
        return api_error_response(
            ApiError(500, "internal_error", "Internal emulator error.")
        )


def _dispatch(app: App, request: Request) -> Response:
    handler, params = match_route(request.method, request.segments)
    public = any(tuple(request.segments[: len(p)]) == p for p in NO_AUTH_PREFIXES)
    if not public:
        _check_api_key(app, request)
        fault = app.faults.take(request)
        if fault is not None:
            faulty = apply_fault(fault)
            if faulty is not None:
                return faulty
    return handler(app, request, params)


def _check_api_key(app: App, request: Request) -> None:
    expected = f"Bearer {app.settings.api_key}"
    if request.header("Authorization") != expected:
        raise ApiError(
            401, "unauthorized", "Unauthorized: the API key is missing or invalid."
        )


class _RequestHandler(BaseHTTPRequestHandler):
    server_version = "NylasEmulator/1.0"
    app: App

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            response = api_error_response(
                ApiError(413, "invalid_request_error", "Request body is too large.")
            )
            self._write(response)
            return
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = parse_request(self.command, self.path, headers, body)
        self._write(dispatch(self.app, request))

    def _write(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


@dataclass
class EmulatorHandle:
    """A running emulator. ``stop()`` shuts the server and the webhook worker down."""

    url: str
    api_key: str
    app: App
    server: ThreadingHTTPServer
    thread: threading.Thread

    @property
    def store(self) -> Store:
        return self.app.store

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.app.notifier.stop()
        if self.app.settings.state_file is not None:
            self.app.store.save(self.app.settings.state_file)


def start_emulator(
    host: str = "127.0.0.1",
    port: int = 0,
    api_key: str = "nyk_emulator",
    seed: int = 1,
    id_style: str = "hex",
    state_file: Path | None = None,
    webhook_base_delay_s: float = 1.0,
    webhook_retry_window_s: float = 20 * 60,
    store: Store | None = None,
) -> EmulatorHandle:
    """Start the emulator in a daemon thread and return its handle.

    With port 0 the OS picks a free port; read it from ``handle.url``. When
    ``state_file`` exists it is loaded, and it is written again on ``stop()``.
    """
    settings = Settings(
        api_key=api_key,
        id_style=id_style,
        seed=seed,
        state_file=state_file,
        webhook_base_delay_s=webhook_base_delay_s,
        webhook_retry_window_s=webhook_retry_window_s,
    )
    if store is None:
        store = (
            Store.load(state_file) if state_file and state_file.exists() else Store()
        )
    app = App(settings, store)
    handler_class = type("EmulatorRequestHandler", (_RequestHandler,), {"app": app})
    server = ThreadingHTTPServer((host, port), handler_class)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever,
        args=(0.05,),
        name="nylas-emulator",
        daemon=True,
    )
    thread.start()

    bound_host, bound_port = server.server_address[:2]
    host_text = str(bound_host)
    display_host = f"[{host_text}]" if ":" in host_text else host_text
    url = f"http://{display_host}:{bound_port}"
    logger.info("Nylas emulator listening on %s", url)
    return EmulatorHandle(url, api_key, app, server, thread)
