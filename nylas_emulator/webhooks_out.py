"""Outgoing webhook notifications: CloudEvents envelopes, signing, retries."""

from __future__ import annotations

import hashlib
import heapq
import hmac
import json
import logging
import random
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 1024 * 1024
TRUNCATABLE = ("message.created", "message.updated")
REQUEST_TIMEOUT_S = 10.0
# Ignore proxy variables: deliveries go straight to the configured URL.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
SOURCES = {
    "message": "/google/emails/realtime",
    "grant": "/nylas/system",
    "tracking": "/com/nylas/tracking",
}


@dataclass
class Target:
    """Where one delivery goes, read from the store at send time."""

    url: str
    secret: str


@dataclass
class Delivery:
    destination_id: str
    event: dict[str, Any]
    attempt: int = 1
    first_attempt_at: float = 0.0


@dataclass
class Chaos:
    duplicate_ratio: float = 0.0
    shuffle: bool = False
    rng: random.Random = field(default_factory=lambda: random.Random(0))


def sign(body: bytes, secret: str) -> str:
    """Return the X-Nylas-Signature value: lower-case hex HMAC-SHA256 of the body."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def encode_event(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def build_event(
    trigger: str, obj: dict[str, Any], application_id: str, extra: dict[str, Any]
) -> dict[str, Any]:
    """Build the envelope, switching to the .truncated type when the body is too big."""
    event_type = trigger
    if trigger in TRUNCATABLE and len(encode_event(obj)) > MAX_PAYLOAD_BYTES:
        event_type = f"{trigger}.truncated"
        obj = {key: value for key, value in obj.items() if key != "body"}

    family = (
        "tracking"
        if trigger in ("message.opened", "thread.replied")
        else trigger.split(".")[0]
    )
    data: dict[str, Any] = {"application_id": application_id, **extra, "object": obj}
    return {
        "specversion": "1.0",
        "type": event_type,
        "source": SOURCES.get(family, "/nylas/system"),
        "id": str(uuid.uuid4()),
        "time": int(time.time()),
        "webhook_delivery_attempt": 1,
        "data": data,
    }


class Notifier:
    """Queue of pending deliveries served by one worker thread."""

    def __init__(
        self,
        find_target: Callable[[str], Target | None],
        base_delay_s: float = 1.0,
        retry_window_s: float = 20 * 60,
    ) -> None:
        self.find_target = find_target
        self.base_delay_s = base_delay_s
        self.retry_window_s = retry_window_s
        self.chaos = Chaos()
        self.paused = False
        self.deliveries: list[dict[str, Any]] = []
        self.given_up = 0
        self._queue: list[tuple[float, int, Delivery]] = []
        self._sequence = 0
        self._in_flight = 0
        self._condition = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(
            target=self._run, name="webhook-out", daemon=True
        )
        self._thread.start()

    def enqueue(self, destination_ids: list[str], event: dict[str, Any]) -> None:
        with self._condition:
            for destination_id in destination_ids:
                copies = (
                    2 if self.chaos.rng.random() < self.chaos.duplicate_ratio else 1
                )
                for _ in range(copies):
                    delivery = Delivery(destination_id, event, 1, time.monotonic())
                    self._push(delivery, time.monotonic())
            self._condition.notify_all()

    def _push(self, delivery: Delivery, due: float) -> None:
        self._sequence += 1
        heapq.heappush(self._queue, (due, self._sequence, delivery))

    def pause(self) -> None:
        with self._condition:
            self.paused = True

    def resume(self) -> None:
        with self._condition:
            self.paused = False
            self._condition.notify_all()

    def set_chaos(self, duplicate_ratio: float, shuffle: bool, seed: int) -> None:
        with self._condition:
            self.chaos = Chaos(duplicate_ratio, shuffle, random.Random(seed))

    def pending(self) -> int:
        with self._condition:
            return len(self._queue) + self._in_flight

    def flush(self, timeout_s: float) -> bool:
        """Wait until nothing is queued or in flight. Returns False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._condition:
            while self._queue or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(min(remaining, 0.05))
        return True

    def clear(self) -> None:
        with self._condition:
            self._queue.clear()
            self.deliveries.clear()
            self.chaos = Chaos()
            self.paused = False

    def stop(self) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        while True:
            batch = self._take_due_batch()
            if batch is None:
                return
            for delivery in batch:
                self._attempt(delivery)
                with self._condition:
                    self._in_flight -= 1
                    self._condition.notify_all()

    def _take_due_batch(self) -> list[Delivery] | None:
        with self._condition:
            while True:
                if self._stopping:
                    return None
                now = time.monotonic()
                if not self.paused and self._queue and self._queue[0][0] <= now:
                    break
                wait = (
                    0.5 if not self._queue or self.paused else self._queue[0][0] - now
                )
                self._condition.wait(max(wait, 0.001))

            batch = []
            while self._queue and self._queue[0][0] <= now:
                batch.append(heapq.heappop(self._queue)[2])
            if self.chaos.shuffle:
                self.chaos.rng.shuffle(batch)
            self._in_flight += len(batch)
            return batch

    def _attempt(self, delivery: Delivery) -> None:
        target = self.find_target(delivery.destination_id)
        if target is None:
            return
        event = dict(delivery.event, webhook_delivery_attempt=delivery.attempt)
        body = encode_event(event)
        status = _post(target.url, body, sign(body, target.secret))
        self._record(delivery, status)
        if status != 200:
            self._schedule_retry(delivery, status)

    def _record(self, delivery: Delivery, status: int) -> None:
        with self._condition:
            self.deliveries.append(
                {
                    "id": delivery.event["id"],
                    "type": delivery.event["type"],
                    "destination_id": delivery.destination_id,
                    "status": status,
                    "attempt": delivery.attempt,
                    "at": time.time(),
                }
            )

    def _schedule_retry(self, delivery: Delivery, status: int) -> None:
        delay = self.base_delay_s * (2 ** (delivery.attempt - 1))
        due = time.monotonic() + delay
        if due - delivery.first_attempt_at > self.retry_window_s:
            logger.warning(
                "gave up on event %s to destination %s after %s attempts "
                "(last status %s)",
                delivery.event["id"],
                delivery.destination_id,
                delivery.attempt,
                status,
            )
            with self._condition:
                self.given_up += 1
            return

        logger.info(
            "retrying event %s to destination %s in %.2fs (status %s)",
            delivery.event["id"],
            delivery.destination_id,
            delay,
            status,
        )
        retry = Delivery(
            delivery.destination_id,
            delivery.event,
            delivery.attempt + 1,
            delivery.first_attempt_at,
        )
        with self._condition:
            self._push(retry, due)
            self._condition.notify_all()


def _post(url: str, body: bytes, signature: str) -> int:
    """POST one notification and return the HTTP status, or 0 when none came back."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Nylas-Signature": signature,
            "User-Agent": "nylas-emulator-webhooks",
        },
    )
    try:
        with _OPENER.open(request, timeout=REQUEST_TIMEOUT_S) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError) as exc:
        logger.warning("webhook POST to %s failed: %s", url, exc)
        return 0


def verify_challenge(url: str, timeout_s: float) -> bool:
    """Send the creation challenge and check that the exact value comes back."""
    challenge = uuid.uuid4().hex
    separator = "&" if "?" in url else "?"
    try:
        with _OPENER.open(
            f"{url}{separator}challenge={challenge}", timeout=timeout_s
        ) as response:
            answer = response.read().decode("utf-8", "replace")
            return int(response.status) == 200 and answer == challenge
    except (urllib.error.URLError, OSError, ValueError) as exc:
        logger.warning("webhook challenge to %s failed: %s", url, exc)
        return False
