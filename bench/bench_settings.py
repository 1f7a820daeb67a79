"""Settings of the webhook benchmark's server: the product plus one trivial
view to compare against."""

from __future__ import annotations

from convex_email.settings import *  # noqa: F403

ROOT_URLCONF = "bench.bench_urls"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
