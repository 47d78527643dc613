"""A customer files a return with feedback through the portal; an agent of the returns
team receives, inspects and resolves it to store credit in the admin; the customer
sees the credit on My coupons."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from returns.models import ReturnLine, ReturnRequest, ReturnStatus
from tests.factories import CustomerFactory, UserFactory
from tests.returns.portal_setup import centre, default_policy, delivered_order

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "correct horse battery staple"


def sign_in(page, email):
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()


def test_a_return_is_filed_resolved_to_store_credit_and_the_credit_shows(
    page, live_server, settings, tmp_path
):
    # given: Sanne's order of two linen shirts at EUR 40.00, delivered five days ago,
    # under a policy offering store credit with a 10 percent bonus
    settings.ALLOWED_HOSTS = ["*"]
    settings.MEDIA_ROOT = tmp_path
    default_policy()
    centre()
    user = UserFactory(username="sanne", email="sanne@example.com")
    EmailAddress.objects.create(
        user=user, email="sanne@example.com", verified=True, primary=True
    )
    order = delivered_order(CustomerFactory(email="sanne@example.com", user=user))
    agent = UserFactory(username="agent", is_staff=True)
    agent.groups.add(Group.objects.get(name="Returns team"))

    # when: she starts a return from My orders
    sign_in(page, "sanne@example.com")
    page.get_by_role("link", name="My orders").click()
    page.get_by_role("link", name="Return items").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Return order RW-1001")

    # and picks one shirt, a reason, store credit, and says what was wrong
    page.get_by_label("How many to return").fill("1")
    page.get_by_label("Why are you returning it?").select_option(label="Size or fit")
    page.get_by_label("Store credit").check()
    page.get_by_label("What was wrong?").fill("The sleeves are too short.")
    page.get_by_label("What would have prevented this return?").fill(
        "Arm length in the size chart."
    )
    page.get_by_role("button", name="Continue").click()

    # then: the quote shows the window, free shipping (our fault) and the credit
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your return")
    expect(page.get_by_text("We pay the return shipping.")).to_be_visible()
    expect(page.get_by_text("EUR 44.00").first).to_be_visible()
    page.get_by_role("button", name="Confirm return").click()

    # and the done page gives the RMA and the slip
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Your return is registered"
    )
    found = ReturnRequest.objects.get(order=order)
    expect(page.locator(".rma")).to_have_text(found.rma)
    expect(
        page.get_by_role("link", name="Download the return slip (PDF)")
    ).to_be_visible()
    line = ReturnLine.objects.get(request=found)
    assert line.comment == "The sleeves are too short."
    assert line.prevention == "Arm length in the size chart."

    # when: the agent receives, inspects and resolves it in the admin
    agent_context = page.context.browser.new_context(base_url=live_server.url)
    admin = agent_context.new_page()
    admin.set_default_timeout(15_000)
    admin.goto("/admin/login/")
    admin.locator("input[name=username]").fill("agent")
    admin.locator("input[name=password]").fill(PASSWORD)
    admin.get_by_role("button", name="Sign in").click()
    expect(admin).to_have_url(re.compile(r"/admin/$"))
    admin.goto("/admin/returns/queue/")
    admin.get_by_role("link", name=found.rma).first.click()
    expect(admin.get_by_text("The sleeves are too short.")).to_be_visible()

    admin.get_by_role("link", name="Mark received").click()
    admin.locator(f"select[name=line-{line.pk}-condition]").select_option("as_new")
    admin.get_by_role("button", name="Mark received").click()
    expect(admin.get_by_role("link", name="Record inspection")).to_be_visible()

    admin.get_by_role("link", name="Record inspection").click()
    admin.locator(f"select[name=line-{line.pk}-disposition]").select_option("restock")
    admin.get_by_role("button", name="Record inspection").click()
    admin.get_by_role("link", name="Resolve").click()
    admin.get_by_role("button", name="Resolve").click()
    expect(admin.get_by_role("link", name="Close")).to_be_visible()
    agent_context.close()
    found.refresh_from_db()
    assert found.status == ReturnStatus.RESOLVED

    # then: Sanne sees the store credit on My coupons
    page.get_by_role("link", name="My coupons").click()
    expect(page.get_by_text("Store credit: EUR 44.00 left")).to_be_visible()
