"""A real `celery beat` with the project's schedule (CELERY_BEAT_SCHEDULE), every
entry at the drill's pace: `python -m tests.faults.beat SECONDS SCHEDULE_FILE`.

The two-beats drill starts two of these at once, as a deploy that forgot to stop the
old beat would."""

import sys

from config.celery import app


def main(every: float, schedule_file: str) -> None:
    app.conf.beat_schedule = {
        name: {**entry, "schedule": every}
        for name, entry in app.conf.beat_schedule.items()
    }
    app.start(
        [
            "beat",
            "--schedule",
            schedule_file,
            "--max-interval",
            "1",
            "--loglevel",
            "WARNING",
        ]
    )


if __name__ == "__main__":
    main(float(sys.argv[1]), sys.argv[2])
