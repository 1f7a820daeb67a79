"""Run the product locally on a realistic mailbox: `make demo`.

Starts, in this order, each as a child process that stops with this one:
the Nylas emulator with generated (or loaded) mailboxes, database
migrations on SQLite, the demo seed (organisations, users, contacts),
a Celery worker with beat on the filesystem broker, and the web server on
http://127.0.0.1:8000. Everything lives in .demo/ and starts fresh.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STATE = REPO / ".demo"
PYTHON = sys.executable
APP_URL = "http://127.0.0.1:8000"
EMULATOR_PORT = 8765
EMULATOR_URL = f"http://127.0.0.1:{EMULATOR_PORT}"
WEBHOOK_SECRET = "demo-webhook-secret"
USERS = {
    "alex": "alex.morgan@acme.example.com",
    "priya": "priya.raman@acme.example.com",
}
PASSWORD = "demo"


def demo_environment() -> dict[str, str]:
    broker = STATE / "broker"
    options = {
        "data_folder_in": str(broker / "queue"),
        "data_folder_out": str(broker / "queue"),
        "processed_folder": str(broker / "processed"),
        "control_folder": str(broker / "control"),
        "store_processed": False,
    }
    return {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{STATE / 'db.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",
        "CELERY_BROKER_TRANSPORT_OPTIONS": json.dumps(options),
        "NYLAS_API_URI": EMULATOR_URL,
        "NYLAS_API_KEY": "nyk_emulator",
        "NYLAS_CLIENT_ID": "demo-client",
        "NYLAS_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "SITE_URL": APP_URL,
        "MAILSYNC_SWEEP_MINUTES": "2",
        "DEMO_USERS": json.dumps(USERS),
        "DEMO_PASSWORD": PASSWORD,
    }


def emulator_command(mailbox: str | None) -> list[str]:
    command = [
        PYTHON, "-m", "nylas_emulator", "--port", str(EMULATOR_PORT),
        "--webhook-url", f"{APP_URL}/nylas/webhook/",
        "--webhook-secret", WEBHOOK_SECRET,
        "--grant", f"{USERS['alex']}=grant-alex",
        "--grant", f"{USERS['priya']}=grant-priya",
        "--generate", f"{USERS['priya']}:1200:120",
    ]  # fmt: skip
    if mailbox:
        command += ["--mailbox", f"{USERS['alex']}={mailbox}"]
    else:
        command += ["--generate", f"{USERS['alex']}:2500:120"]
    return command


def wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(
                url, headers={"Authorization": "Bearer nyk_emulator"}
            )
            with urllib.request.urlopen(request, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(
        f"{url} did not respond within {seconds:.0f} s; see the output above."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--mailbox", help="folder of .eml/.mbox files to use as Alex's mailbox"
    )
    args = parser.parse_args()
    if args.mailbox and not Path(args.mailbox).exists():
        raise SystemExit(
            f"MAILBOX={args.mailbox} does not exist: give a folder or file."
        )

    shutil.rmtree(STATE, ignore_errors=True)
    (STATE / "broker" / "queue").mkdir(parents=True)
    (STATE / "broker" / "processed").mkdir(parents=True)
    (STATE / "broker" / "control").mkdir(parents=True)
    env = demo_environment()
    children: list[subprocess.Popen[bytes]] = []

    def start(command: list[str]) -> None:
        children.append(subprocess.Popen(command, cwd=REPO, env=env))

    try:
        start(emulator_command(args.mailbox))
        # The emulator responds before its mailboxes are loaded; Priya's grant
        # is created last, so wait for it.
        wait_for(f"{EMULATOR_URL}/v3/grants/grant-priya")
        subprocess.run(
            [PYTHON, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=REPO,
            env=env,
            check=True,
        )
        subprocess.run([PYTHON, "demo/seed.py"], cwd=REPO, env=env, check=True)
        start(
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "convex_email",
                "worker",
                "-B",
                "--pool=threads",
                "--concurrency=4",
                "--loglevel=WARNING",
                "-s",
                str(STATE / "beat-schedule"),
            ]
        )
        start([PYTHON, "manage.py", "runserver", "127.0.0.1:8000", "--noreload"])
        wait_for(f"{APP_URL}/login/")
        print_welcome()
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        # Ctrl-C reaches the children too, and they may exit before this
        # process sees its own KeyboardInterrupt.
        time.sleep(1)
        raise SystemExit("A demo process stopped; see the output above.")
    except KeyboardInterrupt:
        print("\nDemo stopped.", flush=True)
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            child.wait(timeout=15)


def print_welcome() -> None:
    print(
        f"""
Demo ready: open {APP_URL}/ and log in.

  alex / {PASSWORD}   manager in two organisations; his mailbox is not connected
                 yet: user menu → Email Integration → Begin Setup, then Approve
                 on the emulator's consent page.
  priya / {PASSWORD}  representative; her mailbox is already connected.
  admin / {PASSWORD}  Django admin at {APP_URL}/admin/

Nylas emulator: {EMULATOR_URL} (control API under /_emulator/).
Press Ctrl-C to stop everything.
""",
        flush=True,
    )


if __name__ == "__main__":
    main()
