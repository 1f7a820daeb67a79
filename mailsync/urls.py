from __future__ import annotations

from django.urls import path

from mailsync.views import message, panel, settings_page

app_name = "mailsync"

urlpatterns = [
    path("settings/email/", settings_page.email_settings, name="settings"),
    path("settings/email/connect/", settings_page.connect_start, name="connect-start"),
    path(
        "settings/email/callback/",
        settings_page.connect_callback,
        name="connect-callback",
    ),
    path("settings/email/progress/", settings_page.sync_progress, name="progress"),
    path("settings/email/disconnect/", settings_page.disconnect, name="disconnect"),
    path(
        "o/<slug:organisation_slug>/contacts/<int:contact_id>/emails/",
        panel.contact_emails,
        name="contact-emails",
    ),
    path(
        "o/<slug:organisation_slug>/messages/<int:header_id>/",
        message.message_detail,
        name="message",
    ),
    path(
        "o/<slug:organisation_slug>/messages/<int:header_id>/body/",
        message.message_body,
        name="message-body",
    ),
]
