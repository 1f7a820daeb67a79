from __future__ import annotations

from django.apps import AppConfig


class MailsyncConfig(AppConfig):
    name = "mailsync"
    verbose_name = "Mail sync"

    def ready(self) -> None:
        from mailsync import signals  # noqa: F401  (connects the receivers)
