"""Points-expiry reminders: the daily scan records each due reminder and writes its
e-mail to the outbox in the same transaction, once per reminder."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from emails import rendering
from emails.models import Message, MessageEvent, Status
from loyalty import services, tasks
from loyalty.models import ExpiryReminder, PointsAccount
from shop import privacy
from tests.factories import CustomerFactory
from tests.loyalty.conftest import NOW

pytestmark = pytest.mark.django_db

# Points earned at NOW expire 12 months later, on 2027-03-01 12:00 UTC; the scan on
# SCAN is within the 30 reminder days.
SCAN = datetime(2027, 2, 10, 9, 0, tzinfo=UTC)
EXPIRES_ON = date(2027, 3, 1)


@pytest.fixture(autouse=True)
def site_url(settings):
    settings.WAGTAILADMIN_BASE_URL = "https://shop.example.com"


def earn(customer, points, *, at=NOW):
    services.award_points(
        customer=customer,
        points=points,
        key=f"earn:{customer.pk}:{at.isoformat()}",
        reason="Review approved",
        now=at,
    )


def test_the_scan_enqueues_one_service_message_per_due_reminder():
    # given two customers whose points expire within the reminder period
    anna = CustomerFactory(email="anna@example.com", first_name="Anna", language="en")
    bram = CustomerFactory(email="bram@example.com", first_name="Bram", language="nl")
    earn(anna, 70)
    earn(bram, 120)

    # when the scan runs
    recorded = services.record_expiry_reminders(now=SCAN)

    # then each reminder has exactly one queued service message, keyed by its id
    assert recorded == 2
    anna_reminder = ExpiryReminder.objects.get(account__customer=anna)
    bram_reminder = ExpiryReminder.objects.get(account__customer=bram)
    messages = Message.objects.order_by("pk")
    assert [
        (
            m.key,
            m.to_email,
            m.customer_id,
            m.category,
            m.language,
            m.template,
            m.sender_label,
            m.status,
            m.context,
        )
        for m in messages
    ] == [
        (
            f"points-expiry:{anna_reminder.pk}",
            "anna@example.com",
            anna.pk,
            "service",
            "en",
            "points_expiry",
            "loyalty:points-expiry",
            Status.QUEUED,
            {
                "first_name": "Anna",
                "points": 70,
                "expires_on": "2027-03-01",
                "expires_on_display": "March 1, 2027",
                "my_points_url": "https://shop.example.com/points/",
            },
        ),
        (
            f"points-expiry:{bram_reminder.pk}",
            "bram@example.com",
            bram.pk,
            "service",
            "nl",
            "points_expiry",
            "loyalty:points-expiry",
            Status.QUEUED,
            {
                "first_name": "Bram",
                "points": 120,
                "expires_on": "2027-03-01",
                "expires_on_display": "1 maart 2027",
                "my_points_url": "https://shop.example.com/nl/points/",
            },
        ),
    ]
    assert list(
        ExpiryReminder.objects.order_by("pk").values_list(
            "expires_on", "points", "sent_at"
        )
    ) == [(EXPIRES_ON, 70, SCAN), (EXPIRES_ON, 120, SCAN)]


def test_running_the_scan_twice_enqueues_nothing_new():
    # given a due reminder already sent by the first scan
    earn(CustomerFactory(email="anna@example.com"), 70)
    services.record_expiry_reminders(now=SCAN)
    message = Message.objects.get()

    # when the scan runs again, the same day and the next
    again = services.record_expiry_reminders(now=SCAN)
    next_day = services.record_expiry_reminders(now=SCAN + timedelta(days=1))

    # then there is still one message with its one "queued" event
    assert (again, next_day) == (0, 0)
    assert list(Message.objects.values_list("pk", flat=True)) == [message.pk]
    assert MessageEvent.objects.filter(message=message).count() == 1
    assert ExpiryReminder.objects.get().sent_at == SCAN


def test_the_daily_task_sends_the_reminder_once_on_commit(
    django_capture_on_commit_callbacks,
):
    # given a Dutch customer whose 40 points expire in 15 days
    now = timezone.now()
    bram = CustomerFactory(email="bram@example.com", first_name="Bram", language="nl")
    earn(bram, 40, at=now - timedelta(days=350))

    # when beat runs the scan twice, each time committing
    with django_capture_on_commit_callbacks(execute=True):
        first = tasks.scan_points_task.delay().get()
    with django_capture_on_commit_callbacks(execute=True):
        second = tasks.scan_points_task.delay().get()

    # then one e-mail was delivered, in Dutch
    assert (first["reminders"], second["reminders"]) == (1, 0)
    message = Message.objects.get()
    assert message.status == Status.SENT
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["bram@example.com"]
    assert mail.outbox[0].subject.startswith("Je 40 punten vervallen op ")


@pytest.mark.parametrize(
    ("language", "points", "subject", "greeting", "advice", "button"),
    [
        (
            "en",
            1,
            "Your 1 point expires on March 1, 2027",
            "Hello Anna,",
            "Your 1 point with Returnwise expires on March 1, 2027.",
            "View my points",
        ),
        (
            "en",
            70,
            "Your 70 points expire on March 1, 2027",
            "Hello Anna,",
            "Your 70 points with Returnwise expire on March 1, 2027.",
            "View my points",
        ),
        (
            "nl",
            1,
            "Je 1 punt vervalt op 1 maart 2027",
            "Hallo Anna,",
            "Je 1 punt bij Returnwise vervalt op 1 maart 2027.",
            "Bekijk mijn punten",
        ),
        (
            "nl",
            120,
            "Je 120 punten vervallen op 1 maart 2027",
            "Hallo Anna,",
            "Je 120 punten bij Returnwise vervallen op 1 maart 2027.",
            "Bekijk mijn punten",
        ),
    ],
)
def test_the_message_renders_in_the_customer_s_language(
    language, points, subject, greeting, advice, button
):
    # given a due reminder for a customer in this language
    customer = CustomerFactory(first_name="Anna", language=language)
    earn(customer, points)
    services.record_expiry_reminders(now=SCAN)

    # when the outbox renders the message
    rendered = rendering.render(Message.objects.get()).filled()

    # then subject, HTML and text are in that language, linking to My points
    prefix = "/nl" if language == "nl" else ""
    link = (
        f"https://shop.example.com{prefix}/points/?utm_source=email"
        "&utm_medium=email&utm_campaign=loyalty%3Apoints-expiry"
    )
    assert rendered.subject == subject
    assert f">{greeting}</h1>" in rendered.html
    assert advice in rendered.html
    assert f'href="{link}"' in rendered.html
    assert f">{button}</a>" in rendered.html
    assert rendered.text.startswith(f"{greeting}\n\n{advice}\n\n")
    assert f"{button}: {link}" in rendered.text


def test_an_account_with_nothing_expiring_soon_gets_no_message():
    # given points that expire in 60 days, and an account without points
    earn(CustomerFactory(), 70, at=SCAN - timedelta(days=305))
    PointsAccount.objects.create(customer=CustomerFactory())

    # when the scan runs
    recorded = services.record_expiry_reminders(now=SCAN)

    # then nothing is recorded or enqueued
    assert recorded == 0
    assert not ExpiryReminder.objects.exists()
    assert not Message.objects.exists()


def test_an_erased_customer_gets_no_reminder():
    # given a customer who asked to be erased, with points about to expire
    customer = CustomerFactory()
    earn(customer, 70)
    privacy.erase_customer(customer=customer)

    # when the scan runs
    recorded = services.record_expiry_reminders(now=SCAN)

    # then nobody is written to
    assert recorded == 0
    assert not Message.objects.exists()


def test_an_unsent_reminder_is_sent_only_while_its_expiry_stands():
    # given two reminders recorded before e-mail existed: Anna's expiry still
    # stands, Bram has earned since, which moved his expiry date on
    anna = CustomerFactory(email="anna@example.com")
    bram = CustomerFactory(email="bram@example.com")
    earn(anna, 70)
    earn(bram, 30)
    earn(bram, 10, at=NOW + timedelta(days=30))
    standing = ExpiryReminder.objects.create(
        account=anna.points_account, expires_on=EXPIRES_ON, points=70
    )
    stale = ExpiryReminder.objects.create(
        account=bram.points_account, expires_on=EXPIRES_ON, points=30
    )

    # when the reminders are handed to the outbox
    sent = services.enqueue_expiry_reminders(now=SCAN)

    # then only the standing one is enqueued and marked sent
    assert sent == [standing]
    assert list(Message.objects.values_list("key", flat=True)) == [
        f"points-expiry:{standing.pk}"
    ]
    stale.refresh_from_db()
    assert stale.sent_at is None
