"""Render XSS vectors in Chromium and count what escapes.

Three passes share one recorder:
- product: each vector is a message body in the emulator, opened through the
  real message view (sanitiser, sandboxed frame, frame CSP, host CSP);
- sanitiser alone: the sanitised HTML is written straight into a plain page
  with no sandbox and no CSP;
- frame alone: the raw vector is served in the product's sandboxed frame
  with the frame CSP, with no sanitiser.

Many vectors render per page in parallel frames, and the harness waits once
per batch so that animations (some vectors use dur="5s") have time to run.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from mailsync.sanitizer import sanitise_email_html

BATCH_SIZE = 80
ANIMATION_WAIT_MS = 6000
INTERACTIVE = "a, button, input, select, textarea, area, summary, label, [tabindex]"
MAX_CLICKS_PER_VECTOR = 4
MAX_HOVERS_PER_VECTOR = 4
ACTION_TIMEOUT_MS = 150
# Chromium's own console reports of blocked actions; these show a layer
# working, not a script running.
BROWSER_REPORT = re.compile(
    r"^(Refused|Blocked|Failed to load resource|Unsafe attempt|"
    r"Ignored call|Not allowed|An iframe which has both|Launched external handler)",
)
# Init script for pages that are not sandboxed: any dialog or a call to
# window.__xss counts as a script execution.
INSTRUMENT = """
for (const name of ["alert", "confirm", "prompt", "print"]) {
  window[name] = (...args) => { window.__xss(name + ":" + args.join(",")); };
}
"""
POPUP_STUB = "<!doctype html><title>popup</title>"
BODY_PATH = re.compile(r"/messages/(\d+)/body/")
PLAIN_ID = re.compile(r"#?vector-(\d+)")


@dataclass
class Vector:
    id: str
    html: str
    klass: str
    context: str
    interaction: bool


@dataclass
class Outcome:
    """What one vector did in one pass."""

    scripts: int = 0
    dialogs: int = 0
    navigations: int = 0
    external_requests: int = 0
    popups_with_opener: int = 0
    overlays: int = 0
    text_length: int = 0
    notes: list[str] = field(default_factory=list)

    def failed(self) -> bool:
        return any(
            (
                self.scripts,
                self.dialogs,
                self.navigations,
                self.external_requests,
                self.popups_with_opener,
                self.overlays,
            )
        )


def load_vectors(shared_dir: Path) -> list[Vector]:
    path = shared_dir / "cases" / "xss" / "vectors.jsonl"
    rows = [json.loads(line) for line in path.read_text().split("\n") if line]
    return [
        Vector(
            id=row["id"],
            html=row["html"],
            klass=row["class"],
            context=row.get("context", "html_body"),
            interaction=bool(row.get("interaction")),
        )
        for row in rows
    ]


def batches(items: list[Any], size: int = BATCH_SIZE) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Recorder:
    """Collect browser events of one page and attribute them to vectors.

    `owner_of(url)` maps a frame URL to the vector index it renders, or None
    for the host page. Unattributed events are kept under index -1.
    """

    def __init__(
        self,
        context: Any,
        page: Any,
        origin: str,
        owner_of: Callable[[str], int | None],
    ) -> None:
        self.page = page
        self.origin = origin
        self.owner_of = owner_of
        self.outcomes: dict[int, Outcome] = {}
        self.armed = False
        self.popups: list[Any] = []
        context.route("**/*", self._route)
        context.expose_binding("__xss", self._binding)
        page.on("dialog", self._dialog)
        page.on("console", self._console)
        page.on("framenavigated", self._navigated)
        page.on("popup", self._popup)

    def outcome(self, index: int | None) -> Outcome:
        key = -1 if index is None else index
        return self.outcomes.setdefault(key, Outcome())

    def _owner_of_frame(self, frame: Any) -> int | None:
        try:
            return self.owner_of(frame.url)
        except Exception:  # a detached frame has no URL
            return None

    def _route(self, route: Any) -> None:
        url = route.request.url
        if url.startswith(self.origin) or url.startswith(("data:", "blob:", "about:")):
            route.continue_()
            return
        try:
            frame = route.request.frame
        except Exception:
            # A navigation that opens a new popup has no frame yet. Clicking
            # a link may open one: it gets a stub page (nothing leaves the
            # host) so that _popup can read its opener and referrer.
            route.fulfill(status=200, content_type="text/html", body=POPUP_STUB)
            return
        if frame.page == self.page:
            outcome = self.outcome(self._owner_of_frame(frame))
            outcome.external_requests += 1
            outcome.notes.append(f"request {urlsplit(url).scheme}://...")
        route.abort()

    def _binding(self, source: Any, text: str) -> None:
        frame = source.get("frame") if isinstance(source, dict) else None
        owner = self._owner_of_frame(frame) if frame is not None else None
        if owner is None and isinstance(text, str):
            match = PLAIN_ID.search(text)
            owner = int(match.group(1)) if match else None
        self.outcome(owner).scripts += 1

    def _dialog(self, dialog: Any) -> None:
        self.outcome(None).dialogs += 1
        dialog.dismiss()

    def _console(self, message: Any) -> None:
        text = message.text
        if BROWSER_REPORT.match(text) or message.type in ("error", "warning"):
            return
        location = message.location or {}
        outcome = self.outcome(self.owner_of(location.get("url", "")))
        outcome.scripts += 1
        outcome.notes.append(f"console {message.type}: {text[:120]}")

    def _navigated(self, frame: Any) -> None:
        if not self.armed:
            return
        owner = self._owner_of_frame(frame)
        self.outcome(owner).navigations += 1

    def _popup(self, popup: Any) -> None:
        self.popups.append(popup)
        try:
            popup.wait_for_load_state("load", timeout=2000)
            exposed = popup.evaluate(
                "() => [window.opener !== null, document.referrer]"
            )
        except Exception:  # the popup closed or never loaded a document
            return
        if exposed[0] or exposed[1]:
            self.outcome(None).popups_with_opener += 1
            self.outcome(None).notes.append(f"popup opener/referrer {exposed}")


def interact(frame: Any) -> None:
    """Hover and click what a rendered vector offers, quickly."""
    try:
        targets = frame.locator(INTERACTIVE).all()[:MAX_CLICKS_PER_VECTOR]
        hovers = frame.locator("body *").all()[:MAX_HOVERS_PER_VECTOR]
    except Exception:
        return
    for element in hovers:
        _quietly(element.hover, timeout=ACTION_TIMEOUT_MS, force=True)
    for element in targets:
        _quietly(element.focus, timeout=ACTION_TIMEOUT_MS)
        _quietly(
            element.click, timeout=ACTION_TIMEOUT_MS, force=True, no_wait_after=True
        )


def _quietly(action: Any, **options: Any) -> None:
    try:
        action(**options)
    except Exception:  # detached, hidden or zero-size elements
        return


def close_popups(recorder: Recorder) -> None:
    for popup in recorder.popups:
        _quietly(popup.close)
    recorder.popups.clear()


HOST_STYLE_PROBE = """
() => {
  const pick = (selector) => {
    const element = document.querySelector(selector);
    if (!element) return null;
    const style = getComputedStyle(element);
    return [style.display, style.visibility, style.backgroundColor, style.fontSize,
            style.fontFamily, style.color].join("|");
  };
  return {body: pick("body"), topbar: pick(".topbar"), nav: pick(".section-nav"),
          heading: pick("article.message h3"), facts: pick(".facts")};
}
"""
FRAME_BOXES = """
() => Array.from(document.querySelectorAll("iframe.message-body")).map(frame => {
  const box = frame.getBoundingClientRect();
  return {src: frame.getAttribute("src"), height: box.height, width: box.width};
})
"""


def run_product_pass(
    context: Any, viewer: Any, vectors: list[Vector], images: bool = False
) -> dict[int, Outcome]:
    """Open every vector through the real message view, in batches."""
    page = context.new_page()
    headers: dict[int, int] = {}
    recorder = Recorder(
        context, page, viewer.base_url, lambda url: _header_owner(url, headers)
    )
    for batch_start, batch in _indexed_batches(vectors):
        stored = [viewer.add_message(v.html, f"Vector {v.id}") for v in batch]
        headers.clear()
        headers.update({h.pk: batch_start + i for i, h in enumerate(stored)})
        _open_batch(page, recorder, viewer, stored, images)
        baseline = page.evaluate(HOST_STYLE_PROBE)
        recorder.armed = True
        for frame in page.frames[1:]:
            interact(frame)
        page.keyboard.press("Tab")
        page.wait_for_timeout(ANIMATION_WAIT_MS)
        recorder.armed = False
        _check_host(page, recorder, baseline)
        _measure_text(page, recorder, headers)
        close_popups(recorder)
    page.close()
    return recorder.outcomes


def _indexed_batches(vectors: list[Vector]) -> Iterator[tuple[int, list[Vector]]]:
    for start in range(0, len(vectors), BATCH_SIZE):
        yield start, vectors[start : start + BATCH_SIZE]


def _header_owner(url: str, headers: dict[int, int]) -> int | None:
    match = BODY_PATH.search(url or "")
    return headers.get(int(match.group(1))) if match else None


def _open_batch(
    page: Any, recorder: Recorder, viewer: Any, stored: list[Any], images: bool
) -> None:
    """Load the first message's page and append the others' htmx fragments."""
    page.goto(viewer.message_url(stored[0], images), wait_until="load")
    session = requests.Session()
    session.cookies.set("sessionid", viewer.session_cookie["value"])
    fragments = [
        session.get(
            viewer.message_url(header, images),
            headers={"HX-Request": "true"},
            timeout=30,
        ).text
        for header in stored[1:]
    ]
    page.evaluate(
        "html => document.querySelector('main .card').insertAdjacentHTML("
        "'beforeend', html)",
        "".join(fragments),
    )
    deadline = time.monotonic() + 60
    while len(page.frames) < len(stored) + 1 and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    for frame in page.frames[1:]:
        _quietly(frame.wait_for_load_state, state="load", timeout=20000)


def _check_host(page: Any, recorder: Recorder, baseline: dict[str, Any]) -> None:
    after = page.evaluate(HOST_STYLE_PROBE)
    if after != baseline:
        recorder.outcome(None).overlays += 1
        recorder.outcome(None).notes.append("host styles changed")
    for box in page.evaluate(FRAME_BOXES):
        if box["height"] > 900:
            recorder.outcome(None).overlays += 1
            recorder.outcome(None).notes.append(f"frame height {box['height']}")


def _measure_text(page: Any, recorder: Recorder, headers: dict[int, int]) -> None:
    for frame in page.frames[1:]:
        owner = _header_owner(frame.url, headers)
        if owner is None:
            continue
        try:
            text = frame.locator("body").inner_text(timeout=1000)
        except Exception:
            text = ""
        recorder.outcome(owner).text_length = len(text.strip())


PLAIN_PAGE_STYLE = (
    "body{margin:0;padding:20px 40px;background:#fff}"
    ".gap{height:12px}"
    ".vector{height:240px;overflow:auto;border:1px solid #ccc}"
)
OVERLAY_PROBE = """
() => {
  const found = [];
  document.querySelectorAll(".vector").forEach((box, index) => {
    box.querySelectorAll("*").forEach(element => {
      const style = getComputedStyle(element);
      if (["fixed", "absolute", "sticky"].includes(style.position)) {
        found.push(index);
      }
    });
  });
  return found;
}
"""


def run_sanitiser_pass(
    context: Any, origin: str, vectors: list[Vector]
) -> dict[int, Outcome]:
    """Render sanitised vectors straight into a plain page without CSP."""
    page = context.new_page()
    page.add_init_script(INSTRUMENT)
    recorder = Recorder(context, page, origin, lambda url: None)
    for batch_start, batch in _indexed_batches(vectors):
        blocks = "".join(
            f'<div class="gap"></div><div class="vector" id="vector-{batch_start + i}">'
            f"{sanitise_email_html(v.html)}</div>"
            for i, v in enumerate(batch)
        )
        document = (
            f"<!doctype html><html><head><style>{PLAIN_PAGE_STYLE}</style></head>"
            f"<body>{blocks}</body></html>"
        )
        url = f"{origin}/__harness__/plain/{batch_start}"
        page.route(url, fulfil_with(document))
        page.goto(url, wait_until="load")
        recorder.armed = True
        for i in range(len(batch)):
            interact(page.locator(f"#vector-{batch_start + i}"))
        page.wait_for_timeout(ANIMATION_WAIT_MS)
        recorder.armed = False
        for index in page.evaluate(OVERLAY_PROBE):
            recorder.outcome(batch_start + index).overlays += 1
        close_popups(recorder)
        page.unroute(url)
    page.close()
    return recorder.outcomes


def run_frame_pass(
    context: Any, origin: str, frame_policy: str, vectors: list[Vector]
) -> dict[int, Outcome]:
    """Render raw vectors in the product's sandboxed frame with its CSP."""
    page = context.new_page()
    recorder = Recorder(context, page, origin, lambda url: _raw_owner(url))
    context.route(f"{origin}/__harness__/raw/**", _raw_route(vectors, frame_policy))
    for batch_start, batch in _indexed_batches(vectors):
        frames = "".join(
            '<iframe sandbox="allow-popups allow-popups-to-escape-sandbox" '
            f'src="{origin}/__harness__/raw/{batch_start + i}" '
            'width="600" height="200"></iframe>'
            for i in range(len(batch))
        )
        url = f"{origin}/__harness__/frames/{batch_start}"
        page.route(url, fulfil_with(f"<!doctype html>{frames}"))
        page.goto(url, wait_until="load")
        recorder.armed = True
        for frame in page.frames[1:]:
            index = _raw_owner(frame.url)
            if index is not None and vectors[index].interaction:
                interact(frame)
        page.wait_for_timeout(ANIMATION_WAIT_MS)
        recorder.armed = False
        close_popups(recorder)
        page.unroute(url)
    page.close()
    return recorder.outcomes


def fulfil_with(document: str) -> Any:
    """Return a route handler that fulfils requests with this HTML document."""

    def fulfil(route: Any) -> None:
        route.fulfill(status=200, content_type="text/html", body=document)

    return fulfil


def _raw_owner(url: str) -> int | None:
    match = re.search(r"/__harness__/raw/(\d+)", url or "")
    return int(match.group(1)) if match else None


def _raw_route(vectors: list[Vector], frame_policy: str) -> Any:
    def fulfil(route: Any) -> None:
        index = _raw_owner(route.request.url)
        body = vectors[index].html if index is not None else ""
        route.fulfill(
            status=200,
            content_type="text/html; charset=utf-8",
            headers={"Content-Security-Policy": frame_policy},
            body=body,
        )

    return fulfil


def summarise(vectors: list[Vector], outcomes: dict[int, Outcome]) -> dict[str, Any]:
    """Count vectors and failures by class, plus unattributed events."""
    by_class: dict[str, Counter[str]] = {}
    for index, vector in enumerate(vectors):
        counts = by_class.setdefault(vector.klass, Counter())
        counts["vectors"] += 1
        outcome = outcomes.get(index, Outcome())
        for name in (
            "scripts",
            "dialogs",
            "navigations",
            "external_requests",
            "popups_with_opener",
            "overlays",
        ):
            counts[name] += getattr(outcome, name)
        if vector.klass == "benign-control" and outcome.text_length > 0:
            counts["readable"] += 1
    host = outcomes.get(-1, Outcome())
    return {
        "by_class": {name: dict(counts) for name, counts in sorted(by_class.items())},
        "unattributed": host.__dict__,
    }


def failures(vectors: list[Vector], outcomes: dict[int, Outcome]) -> dict[str, Any]:
    failed = {
        vectors[index].id: outcome.__dict__
        for index, outcome in outcomes.items()
        if index >= 0 and outcome.failed()
    }
    host = outcomes.get(-1)
    if host is not None and host.failed():
        failed["(host page)"] = host.__dict__
    return failed
