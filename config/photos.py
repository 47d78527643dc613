"""Customers' photos (review photos, return photos): what a customer uploads is
decoded, checked and re-encoded before it is stored. Here, below the apps, because
reviews and returns both take photos and neither may import the other.

- Only JPEG, PNG and WebP, recognised by decoding the file (never by its name or the
  browser's content type).
- At most MAX_BYTES bytes (or the caller's `max_bytes`), checked before the file is
  read whole.
- At most MAX_PIXELS pixels, checked from the image header *before* the pixels are
  decompressed: a decompression bomb (a small PNG that claims 100,000 × 100,000
  pixels) is refused without allocating its memory. Pillow's own bomb guard is kept
  as a second line.
- EXIF orientation is applied to the pixels, then the image is re-encoded without any
  metadata (EXIF with GPS position, camera serials, XMP, PNG text chunks, comments).
  Only the ICC colour profile is kept, so colours stay right.
- A display rendition (THUMBNAIL_SIZE on its long side, JPEG so e-mail clients show
  it too) is made from the same pixels, when asked for.
- The stored name is random (never the uploaded name), so a photo's URL cannot be
  guessed.
"""

from __future__ import annotations

import io
import uuid
import warnings
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
THUMBNAIL_SIZE = 800
# Pillow format name -> file extension of the stored original.
ALLOWED_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
JPEG_QUALITY = 88
THUMBNAIL_QUALITY = 82


class PhotoRejected(Exception):
    """An upload that is not accepted; `message` tells the customer why, `code` names
    the reason for programs: not_image, type, too_big, too_many_pixels, broken."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class ProcessedPhoto:
    image: ContentFile
    thumbnail: ContentFile | None
    width: int
    height: int
    format: str  # "JPEG", "PNG" or "WEBP"


def process_photo(
    upload, *, max_bytes: int = MAX_BYTES, thumbnail: bool = True
) -> ProcessedPhoto:
    """Check and clean one uploaded photo (an UploadedFile, any binary file object or
    bytes); raises PhotoRejected with a message naming the problem."""
    data = _read_limited(upload, max_bytes)
    image = _open(data)
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise _too_many_pixels(width * height)
    try:
        image.load()
    except Image.DecompressionBombError as exc:
        raise _too_many_pixels(width * height) from exc
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise _broken() from exc

    fmt = image.format
    # A CMYK profile does not describe the RGB pixels written below.
    icc_profile = image.info.get("icc_profile") if image.mode != "CMYK" else None
    try:
        upright = ImageOps.exif_transpose(image)
        upright = _display_mode(upright, fmt)
        upright.info = {}  # nothing from the upload travels on, by accident or not
        original = _encode(upright, fmt, icc_profile)
        small = _encode_thumbnail(upright, icc_profile) if thumbnail else None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise _broken() from exc

    name = uuid.uuid4().hex
    return ProcessedPhoto(
        image=ContentFile(original, name=f"{name}.{ALLOWED_FORMATS[fmt]}"),
        thumbnail=ContentFile(small, name=f"{name}-thumb.jpg") if small else None,
        width=upright.width,
        height=upright.height,
        format=fmt,
    )


def _read_limited(upload, max_bytes: int) -> bytes:
    if isinstance(upload, bytes | bytearray):
        data = bytes(upload)
    else:
        size = getattr(upload, "size", None)
        if size is not None and size > max_bytes:
            raise _too_big(size, max_bytes)
        if hasattr(upload, "seek"):
            upload.seek(0)
        data = upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise _too_big(len(data), max_bytes)
    if not data:
        raise _not_image()
    return data


def _open(data: bytes) -> Image.Image:
    """Parse the header only (Pillow decodes lazily)."""
    with warnings.catch_warnings():
        # Pillow warns between MAX_IMAGE_PIXELS and twice that; refuse instead.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _too_many_pixels(None) from exc
        except UnidentifiedImageError:
            pass
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise _broken() from exc
        # Not one of ours: is it an image of another type, or no image at all?
        try:
            other = Image.open(io.BytesIO(data))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _not_allowed(None) from exc
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
            raise _not_image() from None
        raise _not_allowed(other.format)


def _display_mode(image: Image.Image, fmt: str) -> Image.Image:
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    if fmt == "JPEG":
        return image if image.mode in ("RGB", "L") else image.convert("RGB")
    if has_alpha:
        return image if image.mode == "RGBA" else image.convert("RGBA")
    return image if image.mode in ("RGB", "L") else image.convert("RGB")


def _encode(image: Image.Image, fmt: str, icc_profile: bytes | None) -> bytes:
    out = io.BytesIO()
    options: dict = {}
    if icc_profile:
        options["icc_profile"] = icc_profile
    if fmt == "JPEG":
        options |= {"quality": JPEG_QUALITY, "optimize": True}
    elif fmt == "WEBP":
        options |= {"quality": JPEG_QUALITY, "method": 4}
    else:
        options |= {"optimize": True}
    image.save(out, format=fmt, **options)
    return out.getvalue()


def _encode_thumbnail(image: Image.Image, icc_profile: bytes | None) -> bytes:
    small = image.copy()
    small.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.Resampling.LANCZOS)
    if small.mode == "RGBA":
        flat = Image.new("RGB", small.size, (255, 255, 255))
        flat.paste(small, mask=small.getchannel("A"))
        small = flat
    elif small.mode not in ("RGB", "L"):
        small = small.convert("RGB")
    out = io.BytesIO()
    options: dict = {"quality": THUMBNAIL_QUALITY, "optimize": True}
    if icc_profile:
        options["icc_profile"] = icc_profile
    small.save(out, format="JPEG", **options)
    return out.getvalue()


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}"


def _not_image() -> PhotoRejected:
    return PhotoRejected(
        _("This file is not an image. Upload a JPEG, PNG or WebP photo."),
        code="not_image",
    )


def _not_allowed(fmt: str | None) -> PhotoRejected:
    if fmt:
        message = _(
            "{format} images are not accepted. Upload a JPEG, PNG or WebP photo."
        ).format(format=fmt)
    else:
        message = _(
            "This type of image is not accepted. Upload a JPEG, PNG or WebP photo."
        )
    return PhotoRejected(message, code="type")


def _too_big(size: int, limit: int) -> PhotoRejected:
    return PhotoRejected(
        _("This photo is too large ({size} MB); the limit is {limit} MB.").format(
            size=_megabytes(size), limit=limit // (1024 * 1024)
        ),
        code="too_big",
    )


def _too_many_pixels(pixels: int | None) -> PhotoRejected:
    limit = MAX_PIXELS // 1_000_000
    if pixels is None:
        message = _(
            "This photo has too many pixels; the limit is {limit} megapixels."
        ).format(limit=limit)
    else:
        message = _(
            "This photo has too many pixels ({megapixels} megapixels); the limit is "
            "{limit} megapixels."
        ).format(megapixels=f"{pixels / 1_000_000:.0f}", limit=limit)
    return PhotoRejected(message, code="too_many_pixels")


def _broken() -> PhotoRejected:
    return PhotoRejected(
        _("This photo is damaged or incomplete and cannot be read. Try another file."),
        code="broken",
    )
