from __future__ import annotations

from convex_email.celery import app as celery_app

__all__ = ["celery_app"]
