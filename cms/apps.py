from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CmsConfig(AppConfig):
    name = "cms"
    verbose_name = _("Site content")

    def ready(self):
        from django.db.models.signals import post_delete, post_save
        from wagtail import signals as wagtail_signals
        from wagtail.images import get_image_model
        from wagtail.models import Site

        from cms import receivers
        from cms.models import ReturnPolicyPage
        from shop.models import Category, Product

        uid = "cms."
        wagtail_signals.page_published.connect(
            receivers.policy_published,
            sender=ReturnPolicyPage,
            dispatch_uid=uid + "policy_published",
        )
        wagtail_signals.page_unpublished.connect(
            receivers.policy_unpublished,
            sender=ReturnPolicyPage,
            dispatch_uid=uid + "policy_unpublished",
        )
        post_delete.connect(receivers.page_deleted, dispatch_uid=uid + "page_deleted")
        wagtail_signals.post_page_move.connect(
            receivers.page_moved, dispatch_uid=uid + "page_moved"
        )
        wagtail_signals.page_slug_changed.connect(
            receivers.page_slug_changed, dispatch_uid=uid + "page_slug_changed"
        )

        # The anonymous page cache (cms/page_cache.py) is purged on any change.
        for signal in (
            wagtail_signals.page_published,
            wagtail_signals.page_unpublished,
            wagtail_signals.post_page_move,
            wagtail_signals.published,
            wagtail_signals.unpublished,
        ):
            signal.connect(receivers.content_changed, dispatch_uid=uid + "purge")
        for signal in (post_save, post_delete):
            signal.connect(
                receivers.model_saved_or_deleted, dispatch_uid=uid + "purge_pages"
            )
            for model in (get_image_model(), Site):
                signal.connect(
                    receivers.content_changed,
                    sender=model,
                    dispatch_uid=f"{uid}purge_{model._meta.label_lower}",
                )
            # A product's category decides its policy (policy JSON and embed).
            for model in (Product, Category):
                signal.connect(
                    receivers.catalogue_changed,
                    sender=model,
                    dispatch_uid=f"{uid}purge_{model._meta.label_lower}",
                )
