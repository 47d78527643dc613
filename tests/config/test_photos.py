"""config.photos: what is accepted, what is refused (and why), what is stripped."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageFile

from config.photos import MAX_BYTES, PhotoRejected, process_photo

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def image_bytes(fmt: str, size=(64, 48), color=(200, 30, 30), mode="RGB", **save):
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, format=fmt, **save)
    return out.getvalue()


def exif_with_gps(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0131] = "Camera 1.0"  # Software
    exif[GPS_IFD] = {
        1: "N",
        2: (52.0, 22.0, 12.5),
        3: "E",
        4: (4.0, 53.0, 40.0),
    }
    return exif


def upload(data: bytes, name="photo.jpg", content_type="image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit greyscale PNG of width × height zero pixels: a few kilobytes
    on disk that decompress to width × height bytes in memory."""
    row = b"\x00" + bytes((width + 7) // 8)
    packer = zlib.compressobj(9)
    compressed = b"".join(packer.compress(row) for _ in range(height))
    compressed += packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", compressed)
        + png_chunk(b"IEND", b"")
    )


@pytest.fixture
def no_full_decode(monkeypatch):
    """Fails the test if Pillow starts decompressing pixels."""

    def refuse(self):
        raise AssertionError("the pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


# Accepted ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "extension"), [("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp")]
)
def test_accepts_jpeg_png_and_webp_and_reencodes_them(fmt, extension):
    result = process_photo(upload(image_bytes(fmt, size=(64, 48)), name="x.bin"))

    assert result.format == fmt
    assert (result.width, result.height) == (64, 48)
    assert result.image.name.endswith(f".{extension}")
    assert result.thumbnail.name.endswith("-thumb.jpg")
    stored = Image.open(io.BytesIO(result.image.read()))
    assert stored.format == fmt
    assert stored.size == (64, 48)
    thumb = Image.open(io.BytesIO(result.thumbnail.read()))
    assert thumb.format == "JPEG"
    assert thumb.size == (64, 48)  # never enlarged


def test_file_names_are_random_not_the_uploaded_name():
    first = process_photo(upload(image_bytes("JPEG"), name="../../etc/passwd.jpg"))
    second = process_photo(upload(image_bytes("JPEG"), name="../../etc/passwd.jpg"))

    assert "passwd" not in first.image.name
    assert "/" not in first.image.name
    assert first.image.name != second.image.name


def test_accepts_plain_bytes_and_file_objects():
    assert process_photo(image_bytes("PNG")).format == "PNG"
    assert process_photo(io.BytesIO(image_bytes("WEBP"))).format == "WEBP"


def test_the_thumbnail_is_at_most_800_pixels_on_its_long_side():
    result = process_photo(upload(image_bytes("JPEG", size=(2000, 1000))))

    assert (result.width, result.height) == (2000, 1000)
    assert Image.open(io.BytesIO(result.thumbnail.read())).size == (800, 400)


def test_a_transparent_png_stays_transparent_and_its_thumbnail_is_flattened():
    data = image_bytes("PNG", size=(10, 10), color=(0, 0, 255, 0), mode="RGBA")

    result = process_photo(upload(data, name="x.png"))

    stored = Image.open(io.BytesIO(result.image.read()))
    assert stored.mode == "RGBA"
    assert stored.getpixel((5, 5))[3] == 0
    thumb = Image.open(io.BytesIO(result.thumbnail.read()))
    assert thumb.mode == "RGB"
    assert all(channel > 245 for channel in thumb.getpixel((5, 5)))  # white


# Metadata and orientation -----------------------------------------------------


def test_exif_and_gps_are_stripped_from_a_jpeg():
    data = image_bytes("JPEG", exif=exif_with_gps())
    before = Image.open(io.BytesIO(data)).getexif()
    assert before.get_ifd(GPS_IFD)[2] == (52.0, 22.0, 12.5)
    assert before[0x010F] == "PhoneMaker"

    result = process_photo(upload(data))

    for content in (result.image, result.thumbnail):
        content.seek(0)
        raw = content.read()
        after = Image.open(io.BytesIO(raw))
        assert "exif" not in after.info
        assert dict(after.getexif()) == {}
        assert after.getexif().get_ifd(GPS_IFD) == {}
        assert b"PhoneMaker" not in raw
        assert b"Exif" not in raw


def test_exif_and_gps_are_stripped_from_webp_and_png():
    webp = image_bytes("WEBP", exif=exif_with_gps())
    assert Image.open(io.BytesIO(webp)).getexif().get_ifd(GPS_IFD)
    png = image_bytes("PNG", exif=exif_with_gps())
    assert Image.open(io.BytesIO(png)).getexif().get_ifd(GPS_IFD)

    for data in (webp, png):
        result = process_photo(upload(data))
        raw = result.image.read()
        after = Image.open(io.BytesIO(raw))
        assert dict(after.getexif()) == {}
        assert b"PhoneMaker" not in raw


def test_png_text_chunks_are_stripped():
    from PIL import PngImagePlugin

    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "home address: Keizersgracht 1")
    data = image_bytes("PNG", pnginfo=text)
    assert b"Keizersgracht" in data

    result = process_photo(upload(data, name="x.png"))

    assert b"Keizersgracht" not in result.image.read()


def test_jpeg_comment_is_stripped():
    data = image_bytes("JPEG", comment=b"taken at Keizersgracht 1")
    assert b"Keizersgracht" in data

    result = process_photo(upload(data))

    assert b"Keizersgracht" not in result.image.read()


def test_exif_orientation_is_applied_to_the_pixels():
    # 40 × 20 landscape: left half red, right half blue; orientation 6 means the
    # camera was turned: shown rotated 90° clockwise (20 × 40, red on top).
    image = Image.new("RGB", (40, 20), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 20, 20))
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif_with_gps(orientation=6), quality=95)

    result = process_photo(upload(out.getvalue()))

    assert (result.width, result.height) == (20, 40)
    stored = Image.open(io.BytesIO(result.image.read()))
    assert stored.size == (20, 40)
    red, _green, blue = stored.getpixel((10, 5))
    assert red > 200 and blue < 60
    red, _green, blue = stored.getpixel((10, 35))
    assert blue > 200 and red < 60
    assert stored.getexif().get(ORIENTATION) is None


# Refused ----------------------------------------------------------------------


def test_a_text_file_named_jpg_is_not_an_image():
    fake = upload(b"<?php system($_GET['c']); ?>\n" * 10, name="holiday.jpg")

    with pytest.raises(PhotoRejected) as refused:
        process_photo(fake)

    assert refused.value.code == "not_image"
    assert refused.value.message == (
        "This file is not an image. Upload a JPEG, PNG or WebP photo."
    )


def test_an_empty_file_is_not_an_image():
    with pytest.raises(PhotoRejected) as refused:
        process_photo(upload(b""))
    assert refused.value.code == "not_image"


@pytest.mark.parametrize(
    ("fmt", "name"), [("GIF", "GIF"), ("BMP", "BMP"), ("TIFF", "TIFF")]
)
def test_other_image_types_are_refused_by_name(fmt, name):
    with pytest.raises(PhotoRejected) as refused:
        process_photo(upload(image_bytes(fmt), name="photo.jpg"))

    assert refused.value.code == "type"
    assert refused.value.message == (
        f"{name} images are not accepted. Upload a JPEG, PNG or WebP photo."
    )


def test_a_file_over_10_mb_is_refused_before_it_is_read():
    class BigUpload:
        """What Django hands a view for a large upload: its size is known."""

        size = MAX_BYTES + 1
        name = "big.jpg"

        def read(self, *args):
            raise AssertionError("the upload was read")

    with pytest.raises(PhotoRejected) as refused:
        process_photo(BigUpload())

    assert refused.value.code == "too_big"
    assert refused.value.message == (
        "This photo is too large (10.0 MB); the limit is 10 MB."
    )


def test_a_stream_over_10_mb_without_a_size_is_refused():
    with pytest.raises(PhotoRejected) as refused:
        process_photo(io.BytesIO(b"\x89PNG" + bytes(MAX_BYTES)))
    assert refused.value.code == "too_big"


def test_a_png_bomb_is_refused_from_its_header_without_decoding(no_full_decode):
    # 30,000 × 30,000 = 900 megapixels in about 110 kB.
    bomb = png_bomb(30_000, 30_000)
    assert len(bomb) < 200_000

    with pytest.raises(PhotoRejected) as refused:
        process_photo(upload(bomb, name="cute-cat.png"))

    assert refused.value.code == "too_many_pixels"
    assert refused.value.message == (
        "This photo has too many pixels; the limit is 40 megapixels."
    )


def test_an_image_over_40_megapixels_is_refused_without_decoding(no_full_decode):
    # 8,000 × 6,000 = 48 megapixels: under Pillow's own guard, over ours.
    with pytest.raises(PhotoRejected) as refused:
        process_photo(upload(png_bomb(8_000, 6_000), name="big.png"))

    assert refused.value.code == "too_many_pixels"
    assert refused.value.message == (
        "This photo has too many pixels (48 megapixels); the limit is 40 megapixels."
    )


def test_a_truncated_jpeg_is_refused_as_broken():
    data = image_bytes("JPEG", size=(400, 300))

    with pytest.raises(PhotoRejected) as refused:
        process_photo(upload(data[: len(data) // 2]))

    assert refused.value.code == "broken"
    assert refused.value.message == (
        "This photo is damaged or incomplete and cannot be read. Try another file."
    )


def test_a_png_with_a_corrupt_body_is_refused_as_broken():
    data = png_bomb(100, 100)
    corrupt = data[:60] + b"\x00garbage\x00" * 4 + data[96:]

    with pytest.raises(PhotoRejected) as refused:
        process_photo(upload(corrupt, name="x.png"))

    assert refused.value.code == "broken"
