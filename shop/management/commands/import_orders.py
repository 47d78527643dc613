"""manage.py import_orders FILE.csv: import order history, one row per order line."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from shop.imports import (
    COLUMNS,
    DEFAULT_BATCH_SIZE,
    MAX_LISTED_ERRORS,
    ImportFileInvalid,
    RowError,
    import_orders_csv,
)
from shop.models import OrderSource


def _listing(errors: list[RowError], count: int) -> str:
    lines = [f"  {error}" for error in errors[:MAX_LISTED_ERRORS]]
    if count > len(lines):
        lines.append(f"  … and {count - len(lines)} more")
    return "\n".join(lines)


class _ProgressBars:
    """One tqdm bar per stage (validating, importing), on a terminal only."""

    def __init__(self, stream):
        self.stream = stream
        self.enabled = hasattr(stream, "isatty") and stream.isatty()
        self.stage = None
        self.bar = None

    def __call__(self, stage: str, advance: int, total: int | None) -> None:
        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = tqdm(
                desc=stage,
                total=total,
                unit=" rows",
                unit_scale=True,
                file=self.stream,
                disable=not self.enabled,
            )
        self.bar.update(advance)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class Command(BaseCommand):
    help = (
        "Import order history from a CSV file with one row per order line and the "
        f"columns: {', '.join(COLUMNS)}. The file is validated first; an invalid file "
        "imports nothing unless --skip-invalid. Importing the same file again changes "
        "nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="CSV file (UTF-8)")
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="Import the valid orders and list the invalid rows; an order with "
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
            help="Where the orders come from (default: %(default)s, the same as "
            "the API, so both update the same orders).",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            help="Order lines per transaction (default: %(default)s); an order is "
            "never split.",
        )

    def handle(self, *args, file: Path, **options):
        if not file.is_file():
            raise CommandError(f"No such file: {file}")
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        progress = _ProgressBars(getattr(self.stderr, "_out", self.stderr))
        try:
            report = import_orders_csv(
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
                f"{report.error_count} error(s); skipped {report.orders_skipped} "
                f"order(s) with an invalid row:\n"
                + _listing(report.errors, report.error_count)
            )
        for line in report.summary():
            self.stdout.write(line)
