"""`manage.py clean_return_photos [--dry-run]`: clean the return photos stored before
photos were cleaned on upload (returns/photos.py): re-encoded without the EXIF/GPS
metadata the customer's device wrote, under a random name. Run once after upgrading;
a second run finds nothing to do."""

from django.core.management.base import BaseCommand

from returns.photos import clean_stored_photos


class Command(BaseCommand):
    help = (
        "Strip metadata (EXIF, GPS) from stored return photos and give them random "
        "names. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="List what would be cleaned; change nothing.",
        )

    def handle(self, *args, dry_run: bool = False, **options):
        report = clean_stored_photos(dry_run=dry_run)
        verb = "would clean" if dry_run else "cleaned"
        for problem in report.missing:
            self.stderr.write(f"missing file, left alone: {problem}")
        for problem in report.unreadable:
            self.stderr.write(f"not a readable photo, left alone: {problem}")
        self.stdout.write(
            f"Return photos: {verb} {len(report.cleaned)}, already clean "
            f"{report.already_clean}, missing {len(report.missing)}, unreadable "
            f"{len(report.unreadable)}."
        )
