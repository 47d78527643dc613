"""Wagtail pages of the reviews app: the public feedback wall and "How we collect and
check reviews" (EU law — the Omnibus directive — asks shops to say whether and how
they check that reviewers bought the product).

reviews.models imports these at its end so Django finds them. They live under the
home page (a string reference: reviews never imports cms).
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.db import models, transaction
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.fields import RichTextField
from wagtail.models import Locale, Page, Site

WALL_PAGE_SIZE_MAX = 100
POLICY_URL_CACHE_SECONDS = 300


class ReviewPolicyPage(Page):
    """ "How we collect and check reviews". Without a body of its own the page shows
    the built-in explanation (templates/reviews/review_policy_page.html), which
    follows what the code does: only the buyer of a delivered order line can review
    it, once; a moderator checks every review (automatic flags help); points are
    given for every approved review whatever its rating, and such reviews are
    labelled; no review is hidden or published because of its stars."""

    intro = models.TextField(_("introduction"), blank=True)
    body = RichTextField(
        _("text"),
        blank=True,
        help_text=_(
            "Leave empty to show the standard explanation of how reviews are "
            "collected, checked and rewarded."
        ),
    )

    content_panels = [*Page.content_panels, FieldPanel("intro"), FieldPanel("body")]

    parent_page_types = ["cms.HomePage"]
    subpage_types: list[str] = []
    max_count_per_parent = 1

    class Meta:
        verbose_name = _("how we check reviews page")
        verbose_name_plural = _("how we check reviews pages")

    def get_context(self, request, *args, **kwargs):
        from loyalty.services import review_points_offer
        from reviews.models import ReviewSettings

        context = super().get_context(request, *args, **kwargs)
        base, photo_bonus = review_points_offer(customer=None)
        context["points_per_review"] = base
        context["photo_bonus"] = photo_bonus
        context["auto_approve_clean"] = ReviewSettings.load().auto_approve_clean
        return context

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        # Every review list links here: let them find the new address.
        transaction.on_commit(_page_moved)


class FeedbackWallPage(Page):
    """Recent approved reviews across the shop, newest first, paginated; each
    rewarded review labelled, low stars included."""

    intro = RichTextField(_("introduction"), blank=True)
    page_size = models.PositiveSmallIntegerField(
        _("reviews per page"),
        default=20,
        help_text=_("At most 100."),
    )

    content_panels = [
        *Page.content_panels,
        FieldPanel("intro"),
        FieldPanel("page_size"),
    ]

    parent_page_types = ["cms.HomePage"]
    subpage_types: list[str] = []
    max_count_per_parent = 1

    class Meta:
        verbose_name = _("feedback wall")
        verbose_name_plural = _("feedback walls")

    def get_context(self, request, *args, **kwargs):
        # Imported here: reviews.models imports this module at its end.
        from reviews import public

        context = super().get_context(request, *args, **kwargs)
        size = max(1, min(self.page_size or 20, WALL_PAGE_SIZE_MAX))
        paginator = Paginator(public.recent_reviews(), size)
        try:
            reviews = paginator.page(request.GET.get("page") or 1)
        except PageNotAnInteger:
            reviews = paginator.page(1)
        except EmptyPage:
            reviews = paginator.page(paginator.num_pages)
        reviews.object_list = public.with_reviewer_names(reviews.object_list)
        context["reviews"] = reviews
        context["policy_url"] = review_policy_url(request)
        context["shop_name"] = settings.WAGTAIL_SITE_NAME
        return context


def _policy_url_key(language: str) -> str:
    return f"reviews:policy-url:{language}"


def _page_moved() -> None:
    from reviews.cache import purge_all

    forget_review_policy_urls()
    purge_all()


def forget_review_policy_urls() -> None:
    cache.delete_many([_policy_url_key(code) for code, _name in _languages()])


def _languages():
    return settings.LANGUAGES


def review_policy_url(request=None, language: str | None = None) -> str | None:
    """The address of the live "How we check reviews" page in the current language
    (else in any language), or None when there is none: then the link is hidden.
    Remembered in the cache for a few minutes."""
    language = language or translation.get_language() or "en"
    key = _policy_url_key(language)
    url = cache.get(key)
    if url is None:
        pages = ReviewPolicyPage.objects.live().public()
        page = (
            pages.filter(locale__language_code=language).first()
            or pages.order_by("pk").first()
        )
        url = page.get_url(request=request) if page is not None else ""
        cache.set(key, url or "", POLICY_URL_CACHE_SECONDS)
    return url or None


# Demo ---------------------------------------------------------------------------

POLICY_PAGE = {
    "en": {
        "title": "How we collect and check reviews",
        "slug": "how-we-check-reviews",
        "intro": (
            "Every review on this site was written by someone who bought the product "
            "from us and received it."
        ),
    },
    "nl": {
        "title": "Zo verzamelen en controleren we reviews",
        "slug": "zo-controleren-we-reviews",
        "intro": (
            "Elke review op deze site is geschreven door iemand die het product bij "
            "ons kocht en heeft ontvangen."
        ),
    },
}
WALL_PAGE = {
    "en": {
        "title": "What our customers say",
        "slug": "feedback",
        "intro": "<p>The most recent reviews of everything we sell, good and bad.</p>",
    },
    "nl": {
        "title": "Wat onze klanten zeggen",
        "slug": "ervaringen",
        "intro": "<p>De nieuwste reviews van alles wat we verkopen, goed en slecht.</p>",
    },
}


def _home_page() -> Page | None:
    """The default site's root, when it is the cms home page."""
    site = Site.objects.filter(is_default_site=True).select_related("root_page").first()
    if site is None:
        return None
    root = site.root_page
    content_type = root.content_type
    if (content_type.app_label, content_type.model) != ("cms", "homepage"):
        return None
    return root


def _publish(page: Page, values: dict) -> None:
    for name, value in values.items():
        setattr(page, name, value)
    page.save_revision().publish()


@transaction.atomic
def ensure_demo_pages() -> int:
    """Create and publish the two pages (en, and their nl translations) under the
    home page, if missing; return how many pages were created. Run by seed_demo
    (reviews/demo.py) after the cms demo; a second run changes nothing."""
    home = _home_page()
    if home is None:
        return 0
    dutch = Locale.objects.filter(language_code="nl").first()
    created = 0
    for model, spec in ((ReviewPolicyPage, POLICY_PAGE), (FeedbackWallPage, WALL_PAGE)):
        page = model.objects.child_of(home).first()
        if page is None:
            page = home.add_child(instance=model(live=False, **spec["en"]))
            _publish(page, {})
            created += 1
        if dutch is not None and home.has_translation(dutch):
            if not page.has_translation(dutch):
                _publish(page.copy_for_translation(dutch), spec["nl"])
                created += 1
    return created
