"""Hooks into lower apps: the outbox asks campaigns to re-check their messages just
before they leave (emails never imports campaigns)."""

from campaigns import services
from emails.services import register_send_check


def connect() -> None:
    register_send_check(services.KEY_PREFIX, services.send_check)
