"""Injected failures for /v3 requests: rate limits, 5xx pages, slow responses."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from .http_types import ApiError, Request, Response

FAULT_KINDS = ("rate_limit", "server_error", "slow", "timeout")
HTML_ERROR_PAGE = (
    "<html><head><title>{status} Bad Gateway</title></head>"
    "<body><h1>{status}</h1><p>The upstream server failed.</p></body></html>"
)


@dataclass
class Fault:
    """One rule. It applies to the next ``count`` matching requests."""

    kind: str
    count: int
    grant_id: str | None = None
    path: str | None = None
    method: str | None = None
    status: int = 503
    retry_after: int = 1
    seconds: float = 1.0

    def matches(self, request: Request) -> bool:
        path = "/" + "/".join(request.segments)
        if self.path is not None and self.path not in path:
            return False
        if self.method is not None and self.method.upper() != request.method:
            return False
        if self.grant_id is not None:
            is_grant_path = request.segments[:2] == ["v3", "grants"]
            if not is_grant_path or request.segments[2:3] != [self.grant_id]:
                return False
        return True

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def fault_from_body(body: dict[str, Any]) -> Fault:
    kind = body.get("kind")
    if kind not in FAULT_KINDS:
        raise ApiError(
            400,
            "invalid_request_error",
            f"kind must be one of {', '.join(FAULT_KINDS)}.",
        )
    try:
        return Fault(
            kind=str(kind),
            count=int(body.get("count", 1)),
            grant_id=body.get("grant_id"),
            path=body.get("path"),
            method=body.get("method"),
            status=int(body.get("status", 503)),
            retry_after=int(body.get("retry_after", 1)),
            seconds=float(body.get("seconds", 1.0)),
        )
    except (TypeError, ValueError) as exc:
        raise ApiError(400, "invalid_request_error", f"Invalid fault: {exc}") from None


class FaultBook:
    """Active fault rules, consumed in the order they were added."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.to_dict() for fault in self._faults]

    def take(self, request: Request) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.count > 0 and fault.matches(request):
                    fault.count -= 1
                    self._faults = [f for f in self._faults if f.count > 0]
                    return fault
        return None


def apply_fault(fault: Fault) -> Response | None:
    """Return the faulty response, or None when the request should continue."""
    if fault.kind == "rate_limit":
        raise ApiError(
            429,
            "rate_limit_error",
            "Too many requests, please try again shortly.",
            {"Retry-After": str(fault.retry_after)},
        )
    if fault.kind == "server_error":
        page = HTML_ERROR_PAGE.format(status=fault.status).encode("utf-8")
        return Response(fault.status, page, "text/html; charset=utf-8")

    time.sleep(fault.seconds)
    if fault.kind == "timeout":
        raise ApiError(504, "provider_error", "The provider did not respond in time.")
    return None
