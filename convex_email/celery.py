"""The Celery application shared by every worker and by the web processes."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convex_email.settings")

app = Celery("convex_email")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
