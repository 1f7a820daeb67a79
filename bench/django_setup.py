"""Point Django at a fresh benchmark database on the local PostgreSQL."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH_DATABASE = "convex_email_bench"


def setup_django() -> None:
    sys.path.insert(0, str(REPO))
    os.environ.setdefault(
        "DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{BENCH_DATABASE}"
    )
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
    os.environ.setdefault("NYLAS_CLIENT_ID", "bench-client")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convex_email.settings")
    _recreate_database()

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)

    from convex_email.celery import app

    app.conf.task_always_eager = True


def _recreate_database() -> None:
    import psycopg

    with psycopg.connect(
        "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True
    ) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE}")
        connection.execute(f"CREATE DATABASE {BENCH_DATABASE}")
