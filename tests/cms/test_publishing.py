"""Policies go live through Wagtail's moderation workflow and scheduled publishing;
only what is live is ever applied, and every revision stays in the history."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from wagtail.models import Workflow

from cms.models import PolicySnapshot, ReturnPolicyPage
from cms.queries import policy_for
from tests.factories import CategoryFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shoes(make_policy):
    category = CategoryFactory(name="Shoes")
    policy = make_policy(title="Shoes", categories=[category], window_days=30)
    return policy, ProductFactory(category=category)


def test_a_change_submitted_for_approval_applies_once_a_moderator_approves(shoes):
    policy, product = shoes
    editor, moderator = UserFactory(), UserFactory(is_superuser=True)
    workflow = Workflow.objects.get(name="Moderators approval")
    assert policy.get_workflow() == workflow  # Wagtail's default, on the root

    # an editor changes the window and submits it
    page = ReturnPolicyPage.objects.get(pk=policy.pk)
    page.window_days = 14
    page.save_revision(user=editor)
    workflow_state = workflow.start(page, editor)
    assert policy_for(product).window_days == 30

    # a moderator approves: it is published, and applies from now on
    workflow_state.current_task_state.task.specific.on_action(
        workflow_state.current_task_state, moderator, "approve"
    )
    assert ReturnPolicyPage.objects.get(pk=policy.pk).live
    assert policy_for(product).window_days == 14
    assert PolicySnapshot.objects.filter(page_id=policy.pk).count() == 2


def test_a_scheduled_change_applies_from_its_publication_time(shoes, monkeypatch):
    policy, product = shoes
    page = ReturnPolicyPage.objects.get(pk=policy.pk)
    page.window_days = 60
    go_live = timezone.now() + timedelta(hours=1)
    page.go_live_at = go_live
    page.save_revision().publish()

    # scheduled, not applied yet
    assert policy_for(product).window_days == 30

    # the hour passes and Wagtail's scheduler runs
    run_scheduler_at(go_live + timedelta(minutes=1), monkeypatch)

    assert policy_for(product, at=go_live).window_days == 30
    assert policy_for(product, at=go_live + timedelta(minutes=2)).window_days == 60
    assert PolicySnapshot.objects.filter(page_id=policy.pk).count() == 2


def test_a_new_policy_scheduled_for_later_applies_only_then(index, monkeypatch):
    category = CategoryFactory(name="Bags")
    product = ProductFactory(category=category)
    go_live = timezone.now() + timedelta(days=1)
    page = ReturnPolicyPage(
        title="Bags",
        summary="21 days.",
        window_days=21,
        live=False,
        go_live_at=go_live,
    )
    index.add_child(instance=page)
    page.applies_to_categories.set([category])
    page.save_revision().publish()

    assert not ReturnPolicyPage.objects.get(pk=page.pk).live
    assert policy_for(product) is None
    assert not PolicySnapshot.objects.filter(page_id=page.pk).exists()

    run_scheduler_at(go_live + timedelta(minutes=1), monkeypatch)

    assert ReturnPolicyPage.objects.get(pk=page.pk).live
    assert policy_for(product, at=go_live + timedelta(minutes=2)).window_days == 21


def run_scheduler_at(moment, monkeypatch) -> None:
    """Wagtail's `publish_scheduled` run by cron at `moment`."""
    with monkeypatch.context() as patch:
        patch.setattr(timezone, "now", lambda: moment)
        call_command("publish_scheduled")


def test_renaming_the_returns_index_gives_its_policies_their_new_address(
    shoes, index, django_capture_on_commit_callbacks
):
    policy, product = shoes
    placed = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        index.slug = "retouren"
        index.save_revision().publish()

    assert policy_for(product).url == "http://127.0.0.1:8000/retouren/shoes/"
    assert policy_for(product, at=placed).url == "http://127.0.0.1:8000/returns/shoes/"
    assert policy_for(product).window_days == 30


def test_moving_a_policy_gives_it_its_new_address(shoes, home):
    from cms.models import ReturnPolicyIndexPage

    policy, product = shoes
    other_index = ReturnPolicyIndexPage(title="Other", slug="other")
    home.add_child(instance=other_index)

    ReturnPolicyPage.objects.get(pk=policy.pk).move(other_index, pos="last-child")

    assert policy_for(product).url == "http://127.0.0.1:8000/other/shoes/"
