"""manage.py import_returns FILE.csv: import return history, one row per returned line."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from insights.imports import COLUMNS, DEFAULT_BATCH_SIZE, import_returns_csv
from shop.imports import ImportFileInvalid
from shop.management.commands.import_orders import _listing, _ProgressBars
from shop.models import OrderSource


class Command(BaseCommand):
    help = (
        "Import return history from a CSV file with one row per returned order line "
        f"and the columns: {', '.join(COLUMNS)}. order_id and line_id are the shop's "
        "ids as imported by import_orders; return_id becomes the return's RMA. The "
        "file is validated first; an invalid file imports nothing unless "
        "--skip-invalid. Importing the same file again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="CSV file (UTF-8)")
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="Import the valid returns and list the invalid rows; a return with "
            "an invalid row is skipped whole.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Validate and report what would change; write nothing.",
        )
        parser.add_argument(
            "--source",
            default=OrderSource.SHOP,
            choices=OrderSource.values,
            help="Where the orders came from (default: %(default)s, as import_orders).",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            help="Returns per transaction (default: %(default)s).",
        )

    def handle(self, *args, file: Path, **options):
        if not file.is_file():
            raise CommandError(f"No such file: {file}")
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        progress = _ProgressBars(getattr(self.stderr, "_out", self.stderr))
        try:
            report = import_returns_csv(
                path=file,
                source=options["source"],
                skip_invalid=options["skip_invalid"],
                dry_run=options["dry_run"],
                batch_size=options["batch_size"],
                progress=progress,
            )
        except ImportFileInvalid as invalid:
            listing = _listing(invalid.errors, invalid.count)
            message = f"{invalid}\n{listing}" if listing else str(invalid)
            raise CommandError(message) from None
        except UnicodeDecodeError as error:
            raise CommandError(f"{file} is not UTF-8 text: {error}") from None
        finally:
            progress.close()

        if report.error_count:
            self.stderr.write(
                f"{report.error_count} error(s); skipped {report.returns_skipped} "
                f"return(s) with an invalid row:\n"
                + _listing(report.errors, report.error_count)
            )
        for line in report.summary():
            self.stdout.write(line)
