"""Command line: python -m nylas_emulator --host 127.0.0.1 --port 8765 ..."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

from .control import ensure_grant, seed_mailbox
from .ids import ID_STYLES
from .server import EmulatorHandle, start_emulator
from .webhooks_api import SDK_TRIGGERS, create_destination

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m nylas_emulator",
        description="Serve a local emulator of the Nylas v3 HTTP API.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=8765,
        help="TCP port; 0 picks a free one (default 8765)",
    )
    parser.add_argument(
        "--api-key",
        default="nyk_emulator",
        help="bearer key that /v3 requests must send (default nyk_emulator)",
    )

    parser.add_argument(
        "--mailbox",
        action="append",
        default=[],
        metavar="OWNER=PATH",
        help="load a folder or file of .eml/mbox mail as the mailbox of OWNER; "
        "repeatable",
    )
    parser.add_argument(
        "--generate",
        action="append",
        default=[],
        metavar="OWNER:COUNT:DAYS",
        help="generate COUNT messages over the last DAYS days for OWNER; repeatable",
    )
    parser.add_argument(
        "--grant",
        action="append",
        default=[],
        metavar="OWNER=GRANT_ID",
        help="create a valid grant with a fixed id for OWNER's mailbox; repeatable",
    )

    parser.add_argument(
        "--seed", type=int, default=1, help="seed for generated mailboxes (default 1)"
    )
    parser.add_argument(
        "--id-style",
        choices=ID_STYLES,
        default="hex",
        help="message ids: hex (Gmail-like) or imap (embed the Message-ID, "
        "contain / + = < @) (default hex)",
    )

    parser.add_argument(
        "--webhook-url",
        help="register a webhook destination for all "
        "triggers at start, without the challenge request",
    )
    parser.add_argument(
        "--webhook-secret",
        default="emulator-webhook-secret",
        help="signing secret for --webhook-url (default emulator-webhook-secret)",
    )
    parser.add_argument(
        "--webhook-retry-delay",
        type=float,
        default=1.0,
        help="first retry delay in seconds after a failed delivery; it doubles "
        "each attempt (default 1.0)",
    )

    parser.add_argument(
        "--state-file",
        type=Path,
        help="JSON state file: loaded at start if it exists, written on "
        "shutdown and on POST /_emulator/save",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="log warnings and errors only"
    )
    return parser


def _split(value: str, separator: str, option: str) -> tuple[str, str]:
    left, found, right = value.partition(separator)
    if not found or not left or not right:
        raise SystemExit(f"{option} expects OWNER{separator}VALUE, got {value!r}")
    return left, right


def configure(handle: EmulatorHandle, args: argparse.Namespace) -> None:
    app = handle.app
    for entry in args.mailbox:
        owner, path = _split(entry, "=", "--mailbox")
        result = seed_mailbox(app, owner, None, path, args.id_style)
        print(
            f"mailbox {owner}: loaded {result['loaded']} messages, "
            f"skipped {result['skipped']}"
        )
    for entry in args.generate:
        owner, _, rest = entry.partition(":")
        count, _, days = rest.partition(":")
        if not (owner and count.isdigit() and days.isdigit()):
            raise SystemExit(f"--generate expects OWNER:COUNT:DAYS, got {entry!r}")
        spec = {"count": int(count), "days": int(days), "seed": args.seed}
        result = seed_mailbox(app, owner, spec, None, args.id_style)
        print(f"mailbox {owner}: generated {result['loaded']} messages")
    for entry in args.grant:
        owner, grant_id = _split(entry, "=", "--grant")
        print(f"grant {ensure_grant(app, owner, grant_id)} for {owner}")
    if args.webhook_url:
        destination = create_destination(
            app,
            args.webhook_url,
            sorted(SDK_TRIGGERS),
            args.webhook_secret,
            "command line",
        )
        print(f"webhook destination {destination.id} -> {args.webhook_url}")


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    handle = start_emulator(
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        seed=args.seed,
        id_style=args.id_style,
        state_file=args.state_file,
        webhook_base_delay_s=args.webhook_retry_delay,
    )
    configure(handle, args)
    print(f"Nylas emulator listening on {handle.url}", flush=True)

    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()
        logger.info("Nylas emulator stopped")
