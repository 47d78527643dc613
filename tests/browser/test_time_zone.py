"""A customer in New York signs in: their browser tells the site its time zone, which
campaigns then use for quiet hours."""

import time

import pytest
from allauth.account.models import EmailAddress

from campaigns.models import CustomerTimeZone
from tests.factories import CustomerFactory, UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "correct horse battery staple"


def test_the_browser_reports_the_customer_s_time_zone(browser, live_server):
    user = UserFactory(username="anna", email="anna@example.com")
    EmailAddress.objects.create(
        user=user, email="anna@example.com", verified=True, primary=True
    )
    customer = CustomerFactory(email="anna@example.com", user=user)
    context = browser.new_context(
        base_url=live_server.url, locale="en-US", timezone_id="America/New_York"
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    reports = []
    page.on(
        "requestfinished",
        lambda request: (
            "/account/time-zone/" in request.url and reports.append(request)
        ),
    )
    try:
        page.goto("/accounts/login/")
        page.get_by_label("Email").fill("anna@example.com")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign In").click()

        deadline = time.monotonic() + 15
        while not CustomerTimeZone.objects.filter(customer=customer).exists():
            assert time.monotonic() < deadline, "the time zone never arrived"
            page.wait_for_timeout(100)
        assert CustomerTimeZone.objects.get(customer=customer).time_zone == (
            "America/New_York"
        )

        # once per browser session: the next page sends nothing more
        page.get_by_role("link", name="My points").click()
        page.wait_for_load_state("networkidle")
        assert len(reports) == 1
        assert reports[0].response().status == 204
    finally:
        context.close()
