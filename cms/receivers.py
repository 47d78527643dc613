"""Signal receivers of the cms app, connected in `CmsConfig.ready()`; each one line."""

from django.db import transaction
from wagtail.models import Page

from cms import page_cache, services


def policy_published(sender, instance, **kwargs):
    services.record_policy_snapshot(page=instance)


def policy_unpublished(sender, instance, **kwargs):
    services.close_policy_snapshots(page_id=instance.pk)


def page_moved(sender, instance, url_path_before, url_path_after, **kwargs):
    if url_path_before != url_path_after:  # not a mere reordering
        services.refresh_policy_snapshots(page=instance)


def page_slug_changed(sender, instance, **kwargs):
    services.refresh_policy_snapshots(page=instance, include_page=False)


def page_deleted(sender, instance, **kwargs):
    if isinstance(instance, Page):
        services.close_policy_snapshots(page_id=instance.pk)


def content_changed(sender, **kwargs):
    """Pages, images, snippets or sites changed: purge now and again on commit, so a
    request rendering the old content in between cannot keep it cached."""
    page_cache.purge_page_cache()
    transaction.on_commit(page_cache.purge_page_cache)


def catalogue_changed(sender, **kwargs):
    page_cache.purge_policy_answers()
    transaction.on_commit(page_cache.purge_policy_answers)


def model_saved_or_deleted(sender, instance, **kwargs):
    if isinstance(instance, Page):
        content_changed(sender)
