from __future__ import annotations

from django.urls import path

from mailsync.views import compose, images, message, panel, settings_page, webhook

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
    path("settings/email/sync-now/", settings_page.sync_now, name="sync-now"),
    path("nylas/webhook/", webhook.nylas_webhook, name="webhook"),
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
    path(
        "o/<slug:organisation_slug>/messages/<int:header_id>/image",
        images.message_image,
        name="message-image",
    ),
    path(
        "o/<slug:organisation_slug>/messages/<int:header_id>/cid",
        images.message_inline_image,
        name="message-cid",
    ),
    path("o/<slug:organisation_slug>/compose/", compose.compose_new, name="compose"),
    path("o/<slug:organisation_slug>/compose/send/", compose.send, name="compose-send"),
    path(
        "o/<slug:organisation_slug>/compose/save-contact/",
        compose.save_contact,
        name="compose-save-contact",
    ),
    path(
        "o/<slug:organisation_slug>/messages/<int:header_id>/reply/",
        compose.compose_reply,
        name="compose-reply",
    ),
    path("settings/email/signature/", compose.save_signature, name="signature"),
]
