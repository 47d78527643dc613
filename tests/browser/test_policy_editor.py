"""An editor creates and publishes a return policy in Wagtail's admin; a visitor
reads it and the shop's embed shows it."""

import re

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import expect
from wagtail.models import Locale, Page, Site

from cms.models import HomePage, ReturnPolicyIndexPage
from tests.factories import CategoryFactory, ProductFactory, UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def returns_index():
    english = Locale.objects.get(language_code="en")
    home = Page.get_first_root_node().add_child(
        instance=HomePage(title="Home", slug="browser-home", locale=english)
    )
    Site.objects.update_or_create(
        is_default_site=True,
        defaults={"hostname": "localhost", "port": 80, "root_page": home},
    )
    return home.add_child(
        instance=ReturnPolicyIndexPage(title="Returns", slug="returns")
    )


@pytest.fixture
def editor():
    user = UserFactory(username="editor", is_staff=True)
    # Moderators may publish; plain Editors submit to them through the workflow.
    user.groups.add(Group.objects.get(name="Moderators"))
    return user


def test_an_editor_publishes_a_policy_and_a_visitor_sees_it(
    page, live_server, returns_index, editor, settings
):
    settings.ALLOWED_HOSTS = ["*"]
    shoes = CategoryFactory(name="Shoes")
    ProductFactory(sku="SHO-001", category=shoes)

    # the editor signs in to the admin
    page.goto("/admin/login/")
    page.locator("input[name=username]").fill("editor")
    page.locator("input[name=password]").fill("correct horse battery staple")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))

    # adds a policy under the Returns index (the only page type allowed there)
    page.goto(f"/admin/pages/{returns_index.pk}/add_subpage/")
    page.get_by_role("textbox", name="Title*").fill("Shoes")
    page.get_by_role("textbox", name="Summary*").fill(
        "Return unworn shoes within 30 days."
    )
    page.get_by_role("tab", name="Rules").click()
    page.get_by_role("checkbox", name="Shoes", exact=True).check()
    page.locator("#id_window_days").fill("30")

    # and publishes it
    page.get_by_role("button", name="More actions").click()
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_text("Page 'Shoes' created and published.")).to_be_visible()

    # a visitor reads it on the site
    visitor = page.context.browser.new_context(base_url=live_server.url)
    try:
        reader = visitor.new_page()
        reader.goto("/returns/shoes/")
        expect(reader.get_by_role("heading", level=1)).to_have_text("Shoes")
        expect(
            reader.get_by_text("Return unworn shoes within 30 days.")
        ).to_be_visible()
        expect(reader.get_by_text("30 days from delivery")).to_be_visible()

        # and the shop's product page can show it
        reader.goto("/embed/policy/SHO-001/")
        expect(reader.locator(".rw-policy__summary")).to_have_text(
            re.compile("Return unworn shoes within 30 days.")
        )
    finally:
        visitor.close()
