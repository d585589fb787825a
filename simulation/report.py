"""The simulator's output: the CSV of every admission, PNG charts (matplotlib, Agg) and report.md.

Every figure is computed here from the runs' results, one column (or one colour) per policy, so
two policies read side by side from one report.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window; before pyplot is imported

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .simulator import LIFE_WHILE_WAITING, RunResult  # noqa: E402

CSV_NAME = "admissions.csv"
REPORT_NAME = "report.md"
CSV_COLUMNS = [
    "reference",
    "facility",
    "district",
    "channel",
    "care_level",
    "queued_date",
    "offer_date",
    "admitted_date",
    "days_waited",
    "policy",
    "applicant_district",
    "facility_level",
    "couple",
]
CHANNELS = ["special", "priority", "ordinary"]
COUPLE_GROUPS = ["single", "together", "either_first"]  # issue 14: R-CPL-1's modes
CARE_LEVELS = ["nursing", "self_care"]
REFUSALS = [("declined", "declined"), ("expired", "left to expire"), ("no_show", "no-show at the check")]
REMOVALS = [
    ("withdrawn", "withdrawn"),
    ("removed_deceased", "died waiting"),
    ("removed_refusal_limit", "barred (3 refusals)"),
    ("removed_ineligible", "ineligible"),
    ("removed_other", "other removal"),
]
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]


def write_outputs(
    results: list[RunResult], out: Path, *, elapsed_seconds: float, peak_memory_mib: float, jobs: int = 1
) -> Path:
    """Write the CSV, the charts and report.md into `out`; returns the report's path."""
    out.mkdir(parents=True, exist_ok=True)
    write_csv(results, out / CSV_NAME)
    charts = {
        "waiting_by_channel": _wait_chart(results, "channel", CHANNELS, out / "waiting_by_channel.png"),
        "waiting_by_care_level": _wait_chart(results, "care_level", CARE_LEVELS, out / "waiting_by_care_level.png"),
        "waiting_by_district": _wait_chart(
            results, "district", _values(results, "district"), out / "waiting_by_district.png"
        ),
        "nursing_share": _share_chart(results, out / "nursing_share.png"),
        "refusals_and_removals": _monthly_chart(results, out / "refusals_and_removals.png"),
        "flow": _flow_chart(results, out / "admissions_and_queue.png"),
    }
    report = out / REPORT_NAME
    report.write_text(
        _markdown(results, charts, elapsed_seconds=elapsed_seconds, peak_memory_mib=peak_memory_mib, jobs=jobs)
    )
    return report


def write_csv(results: list[RunResult], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for result in results:
            writer.writerows(result.admissions)


# --- statistics ----------------------------------------------------------------------------------
def waits(result: RunResult, key: str | None = None, value: str | None = None) -> list[int]:
    return [row["days_waited"] for row in result.admissions if key is None or row.get(key) == value]


def median_p90(days: list[int]) -> tuple[float, float] | None:
    """Median and 90th percentile (linear interpolation), or None without admissions."""
    if not days:
        return None
    median, p90 = np.percentile(days, [50, 90])
    return float(median), float(p90)


def _values(results: list[RunResult], key: str) -> list[str]:
    return sorted({row[key] for result in results for row in result.admissions})


def _months(result: RunResult) -> list[str]:
    months, day = [], result.start.replace(day=1)
    while day < result.end:
        months.append(f"{day:%Y-%m}")
        day = (day + dt.timedelta(days=32)).replace(day=1)
    return months


def _cell(figures: tuple[float, float] | None, count: int) -> str:
    return "–" if figures is None else f"{figures[0]:.0f} / {figures[1]:.0f} (n={count})"


# --- charts --------------------------------------------------------------------------------------
def _wait_chart(results: list[RunResult], key: str, groups: list[str], path: Path) -> str:
    """Median waits as bars, the 90th percentile as a diamond above each, one colour per policy."""
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(groups) + 2), 4.2))
    width = 0.8 / len(results)
    x = np.arange(len(groups))
    for index, result in enumerate(results):
        figures = [median_p90(waits(result, key, group)) for group in groups]
        medians = [f[0] if f else 0 for f in figures]
        p90s = [f[1] if f else np.nan for f in figures]
        offset = x - 0.4 + width * (index + 0.5)
        ax.bar(offset, medians, width, color=COLOURS[index], label=f"{result.policy.label}: median")
        ax.scatter(offset, p90s, marker="D", color=COLOURS[index], edgecolor="black", zorder=3,
                   label=f"{result.policy.label}: 90th percentile")  # fmt: skip
    ax.set_xticks(x, groups, rotation=30 if len(groups) > 4 else 0, ha="right" if len(groups) > 4 else "center")
    ax.set_ylabel("days from queued to admitted")
    ax.set_title(f"Waiting time by {key.replace('_', ' ')}")
    # Below the axes, so it never hides a bar.
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path.name


def _share_chart(results: list[RunResult], path: Path) -> str:
    """Each facility's nursing share of held beds at each month end (thin lines), its target
    (dashed), one panel per policy on one scale."""
    fig, axes = plt.subplots(1, len(results), figsize=(6.2 * len(results), 4.4), sharey=True, squeeze=False)
    for ax, (index, result) in zip(axes[0], enumerate(results), strict=True):
        months = _months(result)
        by_facility: dict[str, dict[str, float]] = {}
        targets = set()
        for row in result.shares:
            if row["nursing_share"] is not None:
                by_facility.setdefault(row["facility"], {})[row["month"]] = row["nursing_share"]
            targets.add(row["nursing_target"])
        for series in by_facility.values():
            ax.plot(
                [i for i, m in enumerate(months) if m in series],
                [series[m] for m in months if m in series],
                color=COLOURS[index],
                alpha=0.35,
                linewidth=1,
            )
        lowest = _lowest_share(result)
        for target in sorted(targets):
            ax.axhline(target, color="black", linestyle="--", linewidth=1.2, label=f"target {target:.0%}")
        ax.set_title(f"{result.policy.label}: {len(by_facility)} homes (lowest {lowest})")
        ax.set_xticks(range(0, len(months), 3), months[::3], rotation=45, ha="right", fontsize=8)
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower left")
    axes[0][0].set_ylabel("held beds taken by nursing-level residents")
    fig.suptitle("Nursing share per home at each month end, against its target (R-NQ-1)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def _lowest_share(result: RunResult) -> str:
    shares = [row["nursing_share"] for row in result.shares if row["nursing_share"] is not None]
    return f"{min(shares):.0%}" if shares else "–"


def _monthly_chart(results: list[RunResult], path: Path) -> str:
    """Refusals (top) and removals (bottom) per month, stacked by kind, one column per policy."""
    fig, axes = plt.subplots(2, len(results), figsize=(6.2 * len(results), 7), sharey="row", squeeze=False)
    for column, result in enumerate(results):
        months = _months(result)
        for row, (kinds, title) in enumerate(((REFUSALS, "refusals"), (REMOVALS, "removals from the list"))):
            ax = axes[row][column]
            bottom = np.zeros(len(months))
            for shade, (kind, label) in enumerate(kinds):
                values = np.array([result.monthly.get(m, Counter())[kind] for m in months], dtype=float)
                if not values.any():
                    continue
                ax.bar(range(len(months)), values, bottom=bottom, label=label, color=plt.cm.tab10(shade + 3 * row))
                bottom += values
            ax.set_title(f"{result.policy.label}: {title} ({int(bottom.sum())})")
            ax.set_xticks(range(0, len(months), 3), months[::3], rotation=45, ha="right", fontsize=8)
            ax.grid(axis="y", alpha=0.3)
            if bottom.any():
                ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def _flow_chart(results: list[RunResult], path: Path) -> str:
    """Admissions per month and the queue at each month end, policies overlaid."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True)
    months = _months(results[0])
    width = 0.8 / len(results)
    for index, result in enumerate(results):
        counts = [result.monthly.get(m, Counter())["admitted"] for m in months]
        queue = [result.monthly.get(m, Counter()).get("queue_at_month_end", np.nan) for m in months]
        top.bar(np.arange(len(months)) - 0.4 + width * (index + 0.5), counts, width, color=COLOURS[index],
                label=result.policy.label)  # fmt: skip
        bottom.plot(
            range(len(months)), queue, marker="o", markersize=3, color=COLOURS[index], label=result.policy.label
        )
    top.set_title("Admissions per month")
    bottom.set_title("Applications in the queue at month end (waiting, suspended, offered, in the admission check)")
    bottom.set_xticks(range(0, len(months), 3), months[::3], rotation=45, ha="right", fontsize=8)
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


# --- the Markdown --------------------------------------------------------------------------------
def _table(header: list[str], rows: Iterable[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines + [""]


def _total(result: RunResult, kind: str) -> int:
    return sum(counts[kind] for counts in result.monthly.values())


def _markdown(
    results: list[RunResult], charts: dict[str, str], *, elapsed_seconds: float, peak_memory_mib: float, jobs: int
) -> str:
    first = results[0]
    labels = [r.policy.label for r in results]
    city = first.city
    lines = [
        f"# Policy simulation: {' vs '.join(labels)}",
        "",
        f"{len(results)} run(s) of the real services over {len(_months(first))} months of simulated time, "
        f"{first.start} to {first.end - dt.timedelta(days=1)}, seed {first.seed}, each from the same generated "
        f"city: {city['facilities']} homes ({city['city_level']} city-level), {city['beds']:,} beds in service "
        f"({city['nursing_beds'] / max(city['beds'], 1):.0%} nursing-type, {city['occupied']:,} occupied), "
        f"{city['open_applications']:,} open applications ({city['waiting']:,} waiting).",
        "",
        "Waiting times are days from `queued_at` (approval into the queue) to admission, for everyone "
        f"admitted during the run, including people queued before it began. Every admission is a row of "
        f"[`{CSV_NAME}`]({CSV_NAME}).",
        "",
        "## The policies",
        "",
    ]
    for result in results:
        changes = result.policy.changed_leaves()
        described = (
            "the defaults of SPEC §9"
            if not changes
            else "; ".join(f"`{path}` {_short(old)} → **{_short(new)}**" for path, old, new in changes)
            + " (the rest as SPEC §9)"
        )
        lines.append(f"- **{result.policy.label}** ({result.policy.source}): {described}")
    lines += ["", "## Summary", ""]
    lines += _comparison(results)
    summary_rows = [
        ["admissions", *[len(r.admissions) for r in results]],
        ["median wait (days)", *[_fig(median_p90(waits(r)), 0) for r in results]],
        ["90th percentile wait (days)", *[_fig(median_p90(waits(r)), 1) for r in results]],
        ["new applications", *[_total(r, "applied") for r in results]],
        ["offers made", *[r.offers for r in results]],
        *[[f"refusals: {label}", *[_total(r, kind) for r in results]] for kind, label in REFUSALS],
        *[[f"removals: {label}", *[_total(r, kind) for r in results]] for kind, label in REMOVALS],
        ["rejected at intake or review", *[_total(r, "rejected") for r in results]],
        ["residents died", *[_total(r, "residents_deceased") for r in results]],
        [
            "residents discharged or transferred",
            *[_total(r, "residents_discharged") + _total(r, "residents_transferred") for r in results],
        ],  # fmt: skip
        ["queue at the end", *[_queue_end(r) for r in results]],
        ["vacant beds at the end (blocked by the quota, or nobody fits)", *[_vacant_end(r) for r in results]],
        [
            "allocation decisions (each vacancy, and each approval at a home with a vacant bed)",
            *[r.decisions for r in results],
        ],  # fmt: skip
    ]
    lines += _table(["", *labels], summary_rows)
    for key, groups, chart, title in (
        ("channel", CHANNELS, "waiting_by_channel", "Waiting time by channel"),
        ("care_level", CARE_LEVELS, "waiting_by_care_level", "Waiting time by care level"),
        ("district", _values(results, "district"), "waiting_by_district", "Waiting time by district of the home"),
        ("couple", COUPLE_GROUPS, None, "Waiting time of couples beside singles"),
    ):
        lines += [f"## {title}", "", "Median / 90th percentile, days (n = admissions).", ""]
        rows = [[group, *[_cell(median_p90(waits(r, key, group)), len(waits(r, key, group))) for r in results]]
                for group in groups]  # fmt: skip
        lines += _table([key.replace("_", " "), *labels], rows)
        lines += [f"![{title}]({charts[chart]})", ""] if chart else [""]
    lines += [
        "## Nursing share per home against its target",
        "",
        "The share of held beds (occupied or reserved) whose holder was at nursing level when offered, at "
        "each month end. R-NQ-1 caps self-care holders at ⌊in-service beds × (1 − target)⌋; with empty beds "
        "the share of *held* beds can sit below the target without any breach, so the rule itself is "
        "checked separately below.",
        "",
        f"![nursing share]({charts['nursing_share']})",
        "",
    ]
    lines += _table(
        ["home", "target", *[f"{label}: lowest / at the end" for label in labels]],
        _share_rows(results),
    )
    lines += [
        "## Refusals and removals per month",
        "",
        f"![refusals and removals]({charts['refusals_and_removals']})",
        "",
    ]
    months = _months(first)
    kinds = REFUSALS + REMOVALS
    header = ["month", *[f"{label}: refused / removed" for label in labels]]
    rows = [
        [month, *[f"{sum(r.monthly.get(month, Counter())[k] for k, _ in REFUSALS)} / "
                  f"{sum(r.monthly.get(month, Counter())[k] for k, _ in REMOVALS)}" for r in results]]
        for month in months
    ]  # fmt: skip
    del kinds
    lines += _table(header, rows)
    lines += [
        "## Life while waiting",
        "",
        "What happened to people while they waited, counted from their applications' events (issue 13). "
        "An application suspended for want of a re-confirmation keeps its place but is skipped by every "
        "allocation (`suspended`) until the family confirms; a no-show nobody records holds its bed until "
        "the admission deadline and its grace have passed, then the bed goes to the next candidate.",
        "",
    ]
    life_rows = [[title, *[_total(r, kind) for r in results]] for kind, title in LIFE_WHILE_WAITING]
    life_rows.append(
        ["unconfirmed at the end (asked, or suspended not confirmed)", *[r.unconfirmed_at_end for r in results]]
    )
    lines += _table(["", *labels], life_rows)
    lines += ["## Admissions and the queue", "", f"![admissions and queue]({charts['flow']})", ""]
    lines += ["## Did the rules hold?", ""]
    for result in results:
        verdict = "held" if not (result.violations or result.untraced or result.chain_break) else "**BROKEN**"
        lines += [
            f"**{result.policy.label}**: {verdict}.",
            "",
            f"- R-NQ-1, R-BED-1, R-OFF-3 checked at the end of each of {result.days_checked} simulated days: "
            f"{len(result.violations)} violation(s)." + ("".join(f"\n  - {v}" for v in result.violations[:10])),
            f"- Every one of the {len(result.admissions)} admissions traced to its offer and the allocation "
            f"decision that chose it (R-ALLOC-1/2): {len(result.admissions) - len(result.untraced)} of "
            f"{len(result.admissions)}." + "".join(f"\n  - {u}" for u in result.untraced[:10]),
            "- Decision hash chains (`verify_decisions`, R-ALLOC-2): "
            + ("intact." if result.chain_break is None else f"broken at {result.chain_break}."),
            f"- Acts the services refused (someone had died or answered meanwhile; each refused act changes "
            f"nothing, R-FSM-3): {_counter_text(result.refused_acts)}.",
            f"- Notifications written to the throwaway database: {result.notifications_written:,}; handed to "
            f"a sender: none (dispatches held back: {_counter_text(result.dispatches_suppressed)}).",
            f"- Run time {result.seconds:.0f} s (migrating, generating the city, simulating); peak memory "
            f"{result.peak_memory_mib:.0f} MiB.",
            "",
        ]
    lines += [
        "## How the run was made",
        "",
        "- Each policy ran in its own throwaway SQLite database, migrated from scratch, filled by "
        "`generate_city` with the same seed, then deleted: the database the command was started against "
        "was never touched. The clock was moved day by day (time-machine); every act went through the "
        "service that owns it, and every offer came from the allocation service.",
        "- Nothing left the machine: notifications and webhooks were written but never dispatched.",
        f"- The whole command took {elapsed_seconds:.0f} s ({jobs} run(s) at a time, one process each); peak "
        f"memory of any of its processes {peak_memory_mib:.0f} MiB.",
        "",
        "Working-day calendar (R-OFF-2) used for deadlines:",
        "",
    ]
    lines += _table(
        ["year", "source"],
        [[note.year, note.source] for note in first.calendar],
    )
    lines += ["Assumptions of the model (the same for every policy; `simulation/simulator.py`, `Rates`):", ""]
    lines += _table(["what", "rate"], first.rates.as_rows())
    return "\n".join(lines)


def _comparison(results: list[RunResult]) -> list[str]:
    """A few sentences on how each policy differs from the first one, in days of waiting."""
    if len(results) < 2:
        return []
    base = results[0]
    lines = []
    for other in results[1:]:
        parts = []
        for key, groups in ((None, [None]), ("channel", CHANNELS)):
            for group in groups:
                before, after = median_p90(waits(base, key, group)), median_p90(waits(other, key, group))
                if before is None or after is None:
                    continue
                name = "all admissions" if key is None else f"{group} channel"
                parts.append(
                    f"{name}: median {after[0]:.0f} days ({after[0] - before[0]:+.0f}), 90th percentile "
                    f"{after[1]:.0f} ({after[1] - before[1]:+.0f})"
                )
        lines.append(
            f"- **{other.policy.label}** against **{base.policy.label}**: {len(other.admissions)} admissions "
            f"({len(other.admissions) - len(base.admissions):+d}); " + "; ".join(parts) + "."
        )
    return [*lines, ""]


def _fig(figures, index: int) -> str:
    return "–" if figures is None else f"{figures[index]:.0f}"


def _short(value) -> str:
    text = str(value).replace("'", '"')
    return text if len(text) <= 90 else text[:87] + "…"


def _queue_end(result: RunResult) -> int | str:
    months = _months(result)
    return result.monthly.get(months[-1], Counter()).get("queue_at_month_end", "–")


def _vacant_end(result: RunResult) -> int:
    last = _months(result)[-1]
    return sum(row["vacant"] for row in result.shares if row["month"] == last)


def life_while_waiting_text(result: RunResult) -> str:
    """The life-while-waiting totals of one run on one line (the command's output)."""
    totals = [f"{_total(result, kind)} {title}" for kind, title in LIFE_WHILE_WAITING]
    return "; ".join([*totals, f"{result.unconfirmed_at_end} unconfirmed at the end"])


def _counter_text(counter: Counter) -> str:
    return ", ".join(f"{kind} {n}" for kind, n in sorted(counter.items())) or "none"


def _share_rows(results: list[RunResult]) -> list[list]:
    facilities = sorted({row["facility"] for row in results[0].shares})
    rows = []
    for code in facilities:
        target = next(row["nursing_target"] for row in results[0].shares if row["facility"] == code)
        cells = []
        for result in results:
            series = [row["nursing_share"] for row in result.shares if row["facility"] == code]
            known = [s for s in series if s is not None]
            cells.append(f"{min(known):.0%} / {known[-1]:.0%}" if known else "–")
        rows.append([code, f"{target:.0%}", *cells])
    return rows
