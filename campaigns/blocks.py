"""StreamField blocks of campaign e-mails. Static blocks (heading, text, image,
button) render once per campaign, variant and language; the two per-recipient blocks
(featured reviews, the order's products) render as substitution tags that
campaigns/rendering.py fills for each recipient from data fetched once per batch."""

from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.images.blocks import ImageChooserBlock

from emails.blocks import ButtonBlock


class ImageBlock(blocks.StructBlock):
    image = ImageChooserBlock(label=_("image"))
    alt = blocks.CharBlock(label=_("alternative text"), max_length=200)
    link = blocks.URLBlock(label=_("link"), required=False)

    class Meta:
        icon = "image"
        label = _("Image")
        template = "campaigns/blocks/image.html"


class FeaturedReviewsBlock(blocks.StructBlock):
    heading = blocks.CharBlock(
        label=_("heading"),
        max_length=120,
        required=False,
        help_text=_("Shown above the reviews, e.g. What other buyers say."),
    )
    fallback = blocks.CharBlock(
        label=_("text when a product has no reviews yet"),
        max_length=300,
        required=False,
    )

    class Meta:
        icon = "pick"
        label = _("Featured reviews of the products bought")
        template = "campaigns/blocks/featured_reviews.html"


class OrderProductsBlock(blocks.StructBlock):
    heading = blocks.CharBlock(label=_("heading"), max_length=120, required=False)

    class Meta:
        icon = "list-ul"
        label = _("The order's products")
        template = "campaigns/blocks/order_products.html"


class CampaignStreamBlock(blocks.StreamBlock):
    heading = blocks.CharBlock(
        label=_("Heading"), max_length=120, template="emails/blocks/heading.html"
    )
    text = blocks.RichTextBlock(
        label=_("Text"),
        features=["bold", "italic", "link", "ol", "ul"],
        template="campaigns/blocks/text.html",
    )
    image = ImageBlock()
    button = ButtonBlock()
    featured_reviews = FeaturedReviewsBlock()
    order_products = OrderProductsBlock()
