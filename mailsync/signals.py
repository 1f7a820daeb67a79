"""Receivers that react to contact changes (mailsync depends on contacts,
never the reverse)."""

from __future__ import annotations
