"""StreamField blocks of the site's pages."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.blocks.struct_block import StructBlockValidationError
from wagtail.images.blocks import ImageChooserBlock


class HeadingBlock(blocks.StructBlock):
    text = blocks.CharBlock(label=_("text"), max_length=120)
    level = blocks.ChoiceBlock(
        label=_("level"),
        choices=[("h2", _("Heading 2")), ("h3", _("Heading 3"))],
        default="h2",
    )

    class Meta:
        icon = "title"
        label = _("Heading")
        template = "cms/blocks/heading.html"


class FaqItemBlock(blocks.StructBlock):
    question = blocks.CharBlock(label=_("question"), max_length=200)
    answer = blocks.RichTextBlock(
        label=_("answer"), features=["bold", "italic", "link", "ul", "ol"]
    )

    class Meta:
        icon = "help"
        label = _("FAQ item")
        template = "cms/blocks/faq_item.html"


class ImageBlock(blocks.StructBlock):
    image = ImageChooserBlock(label=_("image"))
    alt_text = blocks.CharBlock(
        label=_("alternative text"),
        max_length=200,
        help_text=_("Describe the image for people who cannot see it."),
    )
    caption = blocks.CharBlock(label=_("caption"), max_length=200, required=False)

    class Meta:
        icon = "image"
        label = _("Image")
        template = "cms/blocks/image.html"


class PolicyBodyBlock(blocks.StreamBlock):
    heading = HeadingBlock()
    paragraph = blocks.RichTextBlock(
        label=_("Paragraph"),
        icon="pilcrow",
        features=["bold", "italic", "link", "ul", "ol"],
    )
    faq_item = FaqItemBlock()
    image = ImageBlock()


class LinkCardBlock(blocks.StructBlock):
    """A card on the home page linking to a page of the site or to any URL (the reviews
    and returns portal live outside Wagtail's page tree)."""

    title = blocks.CharBlock(label=_("title"), max_length=80)
    text = blocks.TextBlock(label=_("text"), max_length=300, required=False)
    page = blocks.PageChooserBlock(label=_("page"), required=False)
    url = blocks.CharBlock(
        label=_("or address"),
        max_length=300,
        required=False,
        help_text=_("A path on this site such as /returns/, or a full URL."),
    )
    link_text = blocks.CharBlock(label=_("link text"), max_length=60)

    class Meta:
        icon = "link"
        label = _("Link card")
        template = "cms/blocks/link_card.html"

    def clean(self, value):
        value = super().clean(value)
        has_page, has_url = bool(value.get("page")), bool(value.get("url"))
        if has_page == has_url:
            message = _("Choose a page or give an address, not both.")
            raise StructBlockValidationError(
                block_errors={"url": ValidationError(message)}
            )
        return value

    def get_context(self, value, parent_context=None):
        context = super().get_context(value, parent_context=parent_context)
        request = (parent_context or {}).get("request")
        page = value.get("page")
        context["href"] = page.get_url(request=request) if page else value["url"]
        return context


class HomeLinksBlock(blocks.StreamBlock):
    card = LinkCardBlock()
