"""The printable return slip: one A4 page the customer puts in the parcel. It carries
the RMA as a Code 128 barcode and as a QR code (the centre scans either), the address
to send the parcel to, the lines coming back and what to do."""

from __future__ import annotations

from collections.abc import Iterable
from io import BytesIO
from xml.sax.saxutils import escape

import segno
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from PIL import Image as PILImage
from PIL import ImageDraw
from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import (
    Image,
    ListFlowable,
    ListItem,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

QR_SIZE = 30 * mm
BARCODE_HEIGHT = 18 * mm
MODULE_PX = 3  # pixels per narrowest bar: sharp when printed, readable by scanners
QUIET_MODULES = 10


def _png(image: PILImage.Image) -> BytesIO:
    buffer = BytesIO()
    image.save(buffer, format="PNG")
    buffer.seek(0)
    return buffer


def _code128_image(value: str) -> Image:
    """Code 128 as a raster image. reportlab draws the bars as vectors; a bitmap of
    whole pixels per module keeps the edges crisp on every printer and lets the
    slip be checked by any decoder that reads images."""
    symbol = Code128(value)
    symbol.validate()
    symbol.encode()
    symbol.decompose()
    # "decomposed" alternates bars (A-D, upper case) and spaces (a-d), 1-4 modules.
    widths = [
        (ord(ch.lower()) - ord("a") + 1, ch.isupper()) for ch in symbol.decomposed
    ]
    modules = sum(width for width, _bar in widths) + 2 * QUIET_MODULES
    height_px = 60
    image = PILImage.new("1", (modules * MODULE_PX, height_px), 1)
    draw = ImageDraw.Draw(image)
    x = QUIET_MODULES * MODULE_PX
    for width, is_bar in widths:
        if is_bar:
            draw.rectangle([x, 0, x + width * MODULE_PX - 1, height_px - 1], fill=0)
        x += width * MODULE_PX
    module_width = 0.33 * mm
    return Image(_png(image), width=modules * module_width, height=BARCODE_HEIGHT)


def _qr_image(value: str) -> Image:
    buffer = BytesIO()
    segno.make(value, error="m", micro=False).save(
        buffer, kind="png", scale=8, border=4
    )
    buffer.seek(0)
    return Image(buffer, width=QR_SIZE, height=QR_SIZE)


def render_slip(
    *,
    rma: str,
    order_number: str,
    customer_name: str,
    centre_name: str,
    centre_address: str,
    lines: Iterable[tuple[str, str, int, str]],
    language: str,
    status_url: str,
) -> bytes:
    """The slip as PDF bytes. `lines` are (product name, SKU, quantity, reason)."""
    with translation.override(language):
        return _build(
            rma=rma,
            order_number=order_number,
            customer_name=customer_name,
            centre_name=centre_name,
            centre_address=centre_address,
            lines=list(lines),
            status_url=status_url,
        )


def _build(
    *, rma, order_number, customer_name, centre_name, centre_address, lines, status_url
):
    styles = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=styles["BodyText"], fontSize=10, leading=13)
    small = ParagraphStyle("small", parent=body, fontSize=8.5, leading=11)
    address = ParagraphStyle("address", parent=body, fontSize=12, leading=16)
    rma_style = ParagraphStyle(
        "rma", parent=styles["Title"], fontSize=22, leading=26, alignment=0
    )

    codes = Table(
        [[[Paragraph(escape(rma), rma_style), _code128_image(rma)], _qr_image(rma)]],
        colWidths=[None, QR_SIZE + 4 * mm],
    )
    codes.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))

    address_lines = [escape(centre_name)] + [
        escape(part.strip()) for part in centre_address.splitlines() if part.strip()
    ]
    send_to = [
        Paragraph(escape(_("Send your parcel to")), styles["Heading3"]),
        Paragraph("<br/>".join(address_lines), address),
    ]
    from_block = [
        Paragraph(escape(_("Order number")), styles["Heading3"]),
        Paragraph(escape(order_number), body),
        Paragraph(escape(customer_name), body),
    ]
    addresses = Table([[send_to, from_block]], colWidths=["60%", "40%"])
    addresses.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))

    rows = [[_("Product"), _("SKU"), _("Quantity"), _("Reason")]]
    rows += [
        [
            Paragraph(escape(name), small),
            Paragraph(escape(sku), small),
            str(quantity),
            Paragraph(escape(reason), small),
        ]
        for name, sku, quantity, reason in lines
    ]
    table = Table(rows, colWidths=["40%", "18%", "12%", "30%"], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                ("FONTSIZE", (0, 0), (-1, -1), 9),
                ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
                ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("ALIGN", (2, 0), (2, -1), "RIGHT"),
            ]
        )
    )

    steps = [
        _("Print this slip and put it in the parcel, on top of the items."),
        _("Pack the items safely, in their original packaging if you still have it."),
        _("Write the return number {rma} on the outside of the parcel.").format(
            rma=rma
        ),
        _("Send the parcel to the address above and keep your proof of shipment."),
    ]
    instructions = ListFlowable(
        [ListItem(Paragraph(escape(step), body)) for step in steps],
        bulletType="1",
    )

    story = [
        Paragraph(escape(settings.WAGTAIL_SITE_NAME), styles["Title"]),
        Paragraph(escape(_("Return slip")), styles["Heading2"]),
        codes,
        Spacer(1, 4 * mm),
        addresses,
        Spacer(1, 4 * mm),
        Paragraph(escape(_("Items in this return")), styles["Heading3"]),
        table,
        Spacer(1, 4 * mm),
        Paragraph(escape(_("What to do")), styles["Heading3"]),
        instructions,
        Spacer(1, 4 * mm),
        Paragraph(escape(_("Follow your return at this address:")), body),
        Paragraph(escape(status_url), small),
    ]

    buffer = BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=_("Return slip {rma}").format(rma=rma),
        author=settings.WAGTAIL_SITE_NAME,
    )
    document.build(story)
    return buffer.getvalue()
