"""The e-mail demo data: twice changes nothing."""

import pytest

from emails import demo
from emails.models import EmailBrandSettings, EmailContentBlock, Message

pytestmark = pytest.mark.django_db


def test_seed_demo_twice_creates_once(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = demo.seed_demo()
        second = demo.seed_demo()

    assert first == {"content blocks": 1, "messages": 2}  # only the default locale
    assert second == {"content blocks": 0, "messages": 0}
    assert EmailContentBlock.objects.get().slug == "thanks"
    assert "Damrak 1" in EmailBrandSettings.load().footer_address
    assert sorted(Message.objects.values_list("language", "status")) == [
        ("en", "sent"),
        ("nl", "sent"),
    ]
