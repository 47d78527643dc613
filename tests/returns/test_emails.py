"""E-mails at each step of a return (through the emails outbox), in English and
Dutch, and the one-question satisfaction score recorded from its signed links."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from emails.models import Message
from emails.rendering import render
from returns import links, services
from returns.models import ReturnStatus
from tests.factories import CustomerFactory, UserFactory
from tests.returns import core_setup as setup


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True)


@pytest.fixture
def ready(db):
    setup.policy()
    setup.centre()


def _keys():
    return list(Message.objects.order_by("pk").values_list("key", flat=True))


def test_each_step_writes_one_e_mail_with_its_key(ready, staff):
    setup.settings(manual_approval_above=Decimal("10.00"))
    request = setup.submit(setup.order())
    services.approve(request=request, by=staff)
    services.receive(request=request, by=staff)
    services.inspect(request=request, findings={}, by=staff)
    services.resolve(request=request, by=staff)

    rma = request.rma
    assert _keys() == [
        f"return-requested:{rma}",
        f"return-approved:{rma}",
        f"return-received:{rma}",
        f"return-resolved:{rma}",
        f"return-satisfaction:{rma}",
    ]
    assert set(Message.objects.values_list("to_email", flat=True)) == {
        request.customer.email
    }


def test_an_auto_approved_return_gets_only_the_approval(ready):
    request = setup.submit(setup.order())
    assert _keys() == [f"return-approved:{request.rma}"]


def test_the_survey_can_be_turned_off(ready, staff):
    setup.settings(satisfaction_survey=False)
    request = setup.walk_to(
        setup.submit(setup.order()), ReturnStatus.RESOLVED, by=staff
    )
    assert f"return-satisfaction:{request.rma}" not in _keys()


def test_the_approval_links_the_slip_and_the_status_page(ready):
    request = setup.submit(setup.order(customer=CustomerFactory(first_name="Sanne")))
    message = Message.objects.get(key=f"return-approved:{request.rma}")

    rendered = render(message)

    token = links.status_token(request)
    assert rendered.subject == f"Your return {request.rma} is approved"
    assert "Hello Sanne," in rendered.text
    assert reverse("returns:slip", args=[token]) in rendered.text
    assert reverse("returns:status", args=[token]) in rendered.text
    assert "Havenweg 12" in rendered.text
    assert reverse("returns:slip", args=[token]) in rendered.html


def test_e_mails_render_in_the_customer_s_language(ready, staff):
    customer = CustomerFactory(language="nl")
    request = setup.walk_to(
        setup.submit(setup.order(customer=customer)), ReturnStatus.RESOLVED, by=staff
    )
    with translation.override("nl"):
        status_path = reverse("returns:status", args=[links.status_token(request)])
    assert status_path.startswith("/nl/")
    templates = set()
    for message in Message.objects.all():
        assert message.language == "nl"
        rendered = render(message)
        templates.add(message.template)
        assert rendered.text.startswith("Hallo Anna,")
        if message.template != "return_satisfaction":
            assert status_path in rendered.text
    assert templates == {
        "return_approved",
        "return_received",
        "return_resolved",
        "return_satisfaction",
    }


def test_a_rejection_tells_the_reason(ready, staff):
    setup.settings(manual_approval_above=Decimal("10.00"))
    request = setup.submit(setup.order())
    services.reject(request=request, reason="Bought at another shop.", by=staff)
    rendered = render(Message.objects.get(key=f"return-rejected:{request.rma}"))
    assert "Bought at another shop." in rendered.text


def test_the_resolution_e_mail_states_the_amounts(ready, staff):
    order = setup.order(lines=2, quantity=1, price="40.00")
    first, second = order.lines.all()
    request = setup.submit(
        order,
        setup.choice(first, resolution="refund"),
        setup.choice(second, resolution="store_credit"),
    )
    setup.walk_to(request, ReturnStatus.RESOLVED, by=staff)
    rendered = render(Message.objects.get(key=f"return-resolved:{request.rma}"))
    assert "We refund EUR 40.00 to your original payment method." in rendered.text
    assert "We added EUR 44.00 to your store credit." in rendered.text


def _score_links(request) -> list[str]:
    rendered = render(Message.objects.get(key=f"return-satisfaction:{request.rma}"))
    return re.findall(r"(/my-returns/satisfaction/[^/\s]+/)", rendered.text)


def test_the_satisfaction_links_record_a_score_on_post(ready, staff, client):
    request = setup.walk_to(
        setup.submit(setup.order()), ReturnStatus.RESOLVED, by=staff
    )
    urls = _score_links(request)
    assert len(urls) == 5

    # opening the link (a mail scanner, or the customer) records nothing
    page = client.get(urls[3])
    request.refresh_from_db()
    assert page.status_code == 200
    assert 'value="4" checked' in page.content.decode()
    assert request.satisfaction_score is None

    # sending the form records it, once
    sent = client.post(urls[3], {"score": "4"})
    request.refresh_from_db()
    assert sent.status_code == 200
    assert "Thank you! You gave your return 4 out of 5." in sent.content.decode()
    assert request.satisfaction_score == 4
    assert request.events.filter(kind="satisfaction").count() == 1
    client.post(urls[3], {"score": "4"})
    assert request.events.filter(kind="satisfaction").count() == 1


def test_a_forged_satisfaction_link_is_not_found(ready, client):
    request = setup.submit(setup.order())
    token = links.satisfaction_token(request, score=5)
    response = client.get(reverse("returns-api:satisfaction", args=[token[:-2] + "xx"]))
    assert response.status_code == 404


def test_a_score_needs_a_resolved_return_and_a_score_from_1_to_5(ready, staff):
    request = setup.submit(setup.order())
    with pytest.raises(services.IllegalTransition):
        services.record_satisfaction(request=request, score=3)
    setup.walk_to(request, ReturnStatus.RESOLVED, by=staff)
    with pytest.raises(services.ReturnsError):
        services.record_satisfaction(request=request, score=6)
    request.refresh_from_db()
    assert request.satisfaction_score is None
