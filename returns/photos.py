"""Return photos in the media storage: the drafts that wait for the customer's
confirmation, and the photos stored before photos were cleaned.

Every photo a customer sends with a return is cleaned by `config.photos` (decoded,
re-encoded upright without EXIF/GPS, a random name) when the return is quoted; the
portal keeps that cleaned copy under DRAFT_PHOTOS/<draft key>/ until the customer
confirms (then it is stored with the line and the draft's copy deleted) or goes away.

- `purge_abandoned_drafts` deletes draft photos older than DRAFT_MAX_AGE (a draft is
  confirmed within minutes; one left for a day was abandoned). Beat runs it hourly.
- `clean_stored_photos` cleans the photos stored before that (`ReturnPhoto.cleaned`
  false): they kept the metadata the customer's phone wrote (the GPS position of
  their home) and some kept a name derived from the order line (guessable URL).
  `manage.py clean_return_photos` runs it once after upgrading; running it again
  changes nothing.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from config.photos import PhotoRejected, process_photo
from returns.models import ReturnPhoto

logger = logging.getLogger(__name__)

DRAFT_PHOTOS = "returns/drafts"
DRAFT_MAX_AGE = timedelta(hours=24)


def purge_abandoned_drafts(*, now: datetime | None = None) -> int:
    """Delete draft photos last written before now - DRAFT_MAX_AGE (and the empty
    draft folders). Returns how many files were deleted."""
    cutoff = (now or timezone.now()) - DRAFT_MAX_AGE
    if not default_storage.exists(DRAFT_PHOTOS):
        return 0
    deleted = 0
    folders, _files = default_storage.listdir(DRAFT_PHOTOS)
    for folder in folders:
        path = f"{DRAFT_PHOTOS}/{folder}"
        try:
            _sub, names = default_storage.listdir(path)
        except FileNotFoundError:
            continue
        kept = 0
        for name in names:
            try:
                if default_storage.get_modified_time(f"{path}/{name}") >= cutoff:
                    kept += 1
                    continue
                default_storage.delete(f"{path}/{name}")
            except FileNotFoundError:
                continue  # confirmed (or purged by another run) meanwhile
            deleted += 1
        if not kept:
            _remove_empty_folder(path)
    return deleted


def _remove_empty_folder(path: str) -> None:
    """FileSystemStorage leaves folders behind; other storages have none."""
    try:
        local = default_storage.path(path)
    except NotImplementedError:
        return
    try:
        os.rmdir(local)
    except OSError:
        pass  # not empty after all (a draft written just now), or already gone


@dataclass
class CleaningReport:
    cleaned: list[str] = field(default_factory=list)  # new names
    already_clean: int = 0
    missing: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


def clean_stored_photos(*, dry_run: bool = False) -> CleaningReport:
    """Re-encode, once, every stored return photo not cleaned on upload, under a new
    random name; the row is marked `cleaned` and the old file deleted once the row
    points to the new one. A missing or unreadable file is reported and left alone.
    Every such photo is re-encoded, whatever its name or header says: a header can
    look clean while the file still carries an unknown segment or a trailer."""
    report = CleaningReport(
        already_clean=ReturnPhoto.objects.filter(cleaned=True).count()
    )
    pending = ReturnPhoto.objects.filter(cleaned=False).order_by("pk")
    for photo in pending.iterator(chunk_size=500):
        name = photo.image.name
        if not name or not default_storage.exists(name):
            report.missing.append(f"{photo.pk}: {name or '(no file)'}")
            continue
        with default_storage.open(name, "rb") as stored:
            data = stored.read()
        try:
            cleaned = process_photo(data, max_bytes=len(data), thumbnail=False)
        except PhotoRejected as exc:
            report.unreadable.append(f"{photo.pk}: {name} ({exc.code})")
            continue
        if dry_run:
            report.cleaned.append(name)
            continue
        with transaction.atomic():
            locked = ReturnPhoto.objects.select_for_update().filter(pk=photo.pk).first()
            if locked is None or locked.cleaned or locked.image.name != name:
                continue  # erased or cleaned meanwhile
            locked.cleaned = True
            locked.image.save(cleaned.image.name, cleaned.image, save=True)
            transaction.on_commit(lambda old=name: default_storage.delete(old))
        report.cleaned.append(locked.image.name)
        logger.info(
            "return photo cleaned",
            extra={
                "photo_id": photo.pk,
                "old_name": name,
                "new_name": locked.image.name,
            },
        )
    return report
