"""The return insert: one A4 page per order, printed at the packing station, with the
policies of the products in the parcel in the customer's language and a QR code that
opens the returns portal for the order."""

from __future__ import annotations

from io import BytesIO
from xml.sax.saxutils import escape

import segno
from django.conf import settings
from django.utils import formats, translation
from django.utils.translation import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import (
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from cms import policy_text
from cms.queries import policies_for
from shop.models import Order

QR_SIZE = 32 * mm


def _qr_image(url: str) -> Image:
    buffer = BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=8, border=4)
    buffer.seek(0)
    return Image(buffer, width=QR_SIZE, height=QR_SIZE)


def render_return_insert(*, order: Order, return_url: str) -> bytes:
    """The insert as PDF bytes. `order` with its customer; lines are read here."""
    lines = list(order.lines.select_related("product").order_by("pk"))
    language = order.customer.language or settings.LANGUAGE_CODE
    with translation.override(language):
        rules_by_product = policies_for(
            [line.product for line in lines], at=order.placed_at, locale=language
        )
        return _build(order, lines, rules_by_product, return_url)


def _build(order, lines, rules_by_product, return_url) -> bytes:
    styles = getSampleStyleSheet()
    small = ParagraphStyle("small", parent=styles["BodyText"], fontSize=8.5, leading=11)
    body = ParagraphStyle("body", parent=styles["BodyText"], fontSize=10, leading=13)
    heading = ParagraphStyle(
        "h", parent=styles["Heading3"], spaceBefore=8, spaceAfter=2
    )

    # Products grouped by the policy that covers them, in order of first appearance.
    groups: dict[object, tuple] = {}
    for line in lines:
        rules = rules_by_product.get(line.product_id)
        key = rules.snapshot_id if rules else None
        groups.setdefault(key, (rules, []))[1].append(line.product.name)

    story = [
        Paragraph(escape(settings.WAGTAIL_SITE_NAME), styles["Title"]),
        Paragraph(
            escape(
                _("Order %(number)s, placed %(date)s")
                % {
                    "number": order.number,
                    "date": formats.date_format(order.placed_at, "DATE_FORMAT"),
                }
            ),
            body,
        ),
        Spacer(1, 4 * mm),
        Paragraph(
            escape(_("Returning something? Here is what applies.")), styles["Heading2"]
        ),
    ]
    for rules, names in groups.values():
        block = [
            Paragraph(
                escape(rules.title if rules else _("No return policy published")),
                heading,
            ),
            Paragraph(escape(", ".join(names)), small),
        ]
        if rules:
            block.append(Paragraph(escape(rules.summary), body))
            block.extend(
                Paragraph(f"<b>{escape(label)}:</b> {escape(text)}", small)
                for label, text in policy_text.rule_lines(rules)
            )
        story.append(KeepTogether(block))

    scan = [
        Paragraph(escape(_("Start your return")), styles["Heading2"]),
        Paragraph(escape(_("Scan the code, or open this address:")), body),
        Paragraph(escape(return_url), small),
    ]
    table = Table([[_qr_image(return_url), scan]], colWidths=[QR_SIZE + 6 * mm, None])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story += [Spacer(1, 8 * mm), table]

    buffer = BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=_("Return information for order %(number)s") % {"number": order.number},
        author=settings.WAGTAIL_SITE_NAME,
    )
    document.build(story)
    return buffer.getvalue()
