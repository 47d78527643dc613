"""config.bulk: one-statement inserts and updates for the hot paths (the outbox, a
campaign's assignments), on PostgreSQL."""

import pytest
from django.utils import timezone

from config.bulk import insert_rows, update_column
from emails.models import Message, MessageEvent, Status

pytestmark = pytest.mark.django_db

FIELDS = ["key", "to_email", "sender_label", "context", "status", "attempts"]
FIELDS += ["ambiguous_resends", "queued_at", "updated_at", "subject", "html", "text"]
FIELDS += ["template", "category", "language", "from_email", "reply_to"]
FIELDS += ["provider_message_id", "last_error"]


def row(key, context=None):
    now = timezone.now()
    head = (key, f"{key}@example.com", "test", context or {}, Status.QUEUED, 0, 0)
    html = "<p>é \" ' \\ {}</p>"
    return (*head, now, now, "S", html, "T", "", "service", "en", "", "", "", "")


def test_inserts_rows_and_skips_conflicts_returning_only_the_new_ones():
    first = insert_rows(Message, FIELDS, [row("a"), row("b")], returning=["id", "key"])
    assert sorted(key for _pk, key in first) == ["a", "b"]

    again = insert_rows(
        Message,
        FIELDS,
        [row("b"), row("c", {"x": [1, "ü"]})],
        ignore_conflicts_on=["key"],
        returning=["key"],
    )

    assert again == [("c",)]
    assert Message.objects.count() == 3
    stored = Message.objects.get(key="c")
    assert stored.context == {"x": [1, "ü"]}
    assert stored.html == "<p>é \" ' \\ {}</p>"


def test_nullable_columns_and_foreign_keys():
    [(pk,)] = insert_rows(Message, FIELDS, [row("a")], returning=["id"])
    now = timezone.now()

    insert_rows(
        MessageEvent,
        ["message", "kind", "from_status", "to_status", "detail", "occurred_at"],
        [(pk, "status", "", Status.QUEUED, "", now)] * 2,
    )

    assert MessageEvent.objects.filter(message_id=pk).count() == 2


def test_update_column_gives_each_row_its_own_value():
    created = {
        key: pk
        for pk, key in insert_rows(
            Message, FIELDS, [row("a"), row("b"), row("c")], returning=["id", "key"]
        )
    }

    changed = update_column(
        Message, "subject", {created["a"]: "first", created["b"]: "second"}
    )

    assert changed == 2
    assert dict(Message.objects.values_list("key", "subject")) == {
        "a": "first",
        "b": "second",
        "c": "S",
    }
    assert update_column(Message, "subject", {}) == 0


def test_database_errors_are_django_s():
    from django.db import IntegrityError, transaction

    insert_rows(Message, FIELDS, [row("a")])
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_rows(Message, FIELDS, [row("a")])  # the key is taken
    assert Message.objects.count() == 1
