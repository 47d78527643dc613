"""StreamField blocks editors use for e-mail content (kept e-mail-safe: no embeds)."""

from django.utils.translation import gettext_lazy as _
from wagtail import blocks


class ButtonBlock(blocks.StructBlock):
    text = blocks.CharBlock(label=_("text"), max_length=60)
    url = blocks.URLBlock(label=_("link"))

    class Meta:
        icon = "link"
        label = _("Button")
        template = "emails/blocks/button.html"


class EmailContentStreamBlock(blocks.StreamBlock):
    heading = blocks.CharBlock(
        label=_("Heading"), max_length=120, template="emails/blocks/heading.html"
    )
    paragraph = blocks.RichTextBlock(
        label=_("Paragraph"), features=["bold", "italic", "link", "ol", "ul"]
    )
    button = ButtonBlock()
