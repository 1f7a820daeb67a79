"""Run every benchmark (`make bench`) and print their `name: value` lines.

Each benchmark runs in its own process. The backfill and webhook ones need
PostgreSQL and Redis on 127.0.0.1; they use a database of their own,
convex_email_bench, which they drop and create again.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SCRIPTS = ["bench_emulator.py", "bench_backfill.py", "bench_webhook.py"]
FIGURE = re.compile(r"^[a-z0-9_]+: \S+$")


def main() -> None:
    failed = []
    for script in SCRIPTS:
        result = subprocess.run(
            [sys.executable, str(BENCH / script)],
            cwd=BENCH,
            capture_output=True,
            text=True,
        )
        for line in result.stdout.splitlines():
            if FIGURE.match(line):
                print(line, flush=True)
        if result.returncode != 0:
            failed.append(script)
            sys.stderr.write(result.stderr[-3000:])
    if failed:
        raise SystemExit(f"Benchmarks failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
