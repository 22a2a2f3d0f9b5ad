"""``/metrics`` in Prometheus' text format, computed from the database at each scrape.

Workers run in other processes (often other machines), so the figures come from the shared
database, not from counters of this process: queue depth and entries by state, trials finished
and failed in every study, and a histogram of how long finished trials took.
"""

from __future__ import annotations

from bisect import bisect_left

from storage import STATES, ServiceStore

# Seconds: a cached small model takes a fraction of one, a cold big one tens.
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _metric(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    return lines + [f"{name}{labels} {value:g}" for labels, value in samples]


def histogram_samples(values: list[float], buckets: tuple[float, ...]) -> list[tuple[str, float]]:
    """Cumulative ``_bucket`` samples, then ``_sum`` and ``_count`` (suffixes in the labels)."""
    ordered = sorted(values)
    samples = [(f'_bucket{{le="{b:g}"}}', bisect_left(ordered, b + 1e-12)) for b in buckets]
    samples.append(('_bucket{le="+Inf"}', len(ordered)))
    return [*samples, ("_sum", sum(ordered)), ("_count", len(ordered))]


def render_metrics(store: ServiceStore) -> str:
    queue = store.queue_counts()
    trials, durations = store.trial_times()
    lines = _metric(
        "autotune_queue_depth",
        "gauge",
        "Studies queued and not yet started by a worker.",
        [("", queue.get("queued", 0))],
    )
    lines += _metric(
        "autotune_queue_studies",
        "gauge",
        "Studies submitted to the queue, by state.",
        [(f'{{state="{s}"}}', queue.get(s, 0)) for s in STATES],
    )
    lines += _metric(
        "autotune_trials_finished_total",
        "counter",
        "Trials completed, in every study of the database.",
        [("", trials.get("COMPLETE", 0))],
    )
    lines += _metric(
        "autotune_trials_failed_total",
        "counter",
        "Trials failed (the config could not deploy, or the trial's process died).",
        [("", trials.get("FAIL", 0))],
    )
    name = "autotune_trial_duration_seconds"
    lines += [
        f"# HELP {name} How long finished trials took, start to end.",
        f"# TYPE {name} histogram",
    ]
    lines += [
        f"{name}{suffix} {value:g}" for suffix, value in histogram_samples(durations, BUCKETS)
    ]
    return "\n".join(lines) + "\n"


__all__ = ["BUCKETS", "CONTENT_TYPE", "histogram_samples", "render_metrics"]
