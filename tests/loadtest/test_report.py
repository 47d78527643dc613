"""The load test's memory verdict: growth after the warm-up, split in halves, so a
run shows whether the workers' memory levels off or keeps climbing."""

from loadtest.__main__ import rss_growth


def series(*totals):
    labels = ["start", *(f"after {n}/10" for n in range(1, 10)), "end"]
    return {
        label: [total / 2, total / 2]
        for label, total in zip(labels, totals, strict=True)
    }


def test_growth_is_measured_from_the_first_tenth_and_split_at_half_way():
    memory = series(200, 260, 262, 264, 266, 268, 270, 270, 271, 271, 272)

    [line] = rss_growth(memory)

    assert line == (
        "growth after the first tenth: +12.0 MB (+8.0 MB up to half-way, +4.0 MB after)"
    )


def test_a_short_series_reports_the_growth_after_the_first_tenth():
    memory = {"start": [100.0], "after 1/10": [110.0], "end": [115.5]}

    assert rss_growth(memory) == ["growth after the first tenth: +5.5 MB"]
