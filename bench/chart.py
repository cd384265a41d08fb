"""The report's chart (``docs/benchmarks.png``): one bar panel per workload, medians."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bench.plan import Sizes
from bench.results import LABELS, MIB, Results

__all__ = ["write_chart"]

Panel = tuple[str, str, list[tuple[str, str]], Callable[[float], float], bool]


def write_chart(path: Path, res: Results, sizes: Sizes) -> None:
    """Draw one bar chart per workload (medians) into a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mib = sizes.big_bytes / MIB
    panels: list[Panel] = [
        ("W1/W2", "W1 upload / W2 download tree (s, log)", [("up_s", "up"), ("down_s", "down")],
         lambda v: v, True),
        ("W5", f"W5 tree with {sizes.latency_ms} ms latency (s, log)",
         [("up_s", "up"), ("down_s", "down")], lambda v: v, True),
        ("W3", f"W3 {mib:,.0f} MiB file (MiB/s, log)",
         [("up_seconds", "up"), ("down_seconds", "down")], lambda v: mib / v if v else 0.0, True),
        ("W3", "W3 client peak RSS (MiB)",
         [("up_peak_rss_kib", "up"), ("down_peak_rss_kib", "down")], lambda v: v / 1024, False),
        ("W4", "W4 walk tree (s, log)", [("walk_s", "walk")], lambda v: v, True),
        ("W6", "W6 server requests/s", [("put_rps", "PUT"), ("get_rps", "GET")],
         lambda v: v, False),
    ]  # fmt: skip
    fig, axes = plt.subplots(2, 3, figsize=(16, 9))
    for ax, (wl, title, series, conv, logy) in zip(axes.flat, panels, strict=True):
        contenders = res.contenders(wl)
        ax.set_title(title, fontsize=10)
        if not contenders:
            ax.text(0.5, 0.5, "not run", ha="center", va="center")
            ax.set_axis_off()
            continue
        width = 0.8 / len(series)
        for i, (key, label) in enumerate(series):
            vals = []
            for c in contenders:
                m = res.median(wl, c, key)
                vals.append(conv(m) if m is not None else 0.0)
            xs = [x + i * width for x in range(len(contenders))]
            ax.bar(xs, vals, width=width, label=label)
        ax.set_xticks([x + width * (len(series) - 1) / 2 for x in range(len(contenders))])
        ax.set_xticklabels([LABELS.get(c, c) for c in contenders], rotation=25, ha="right")
        ax.tick_params(axis="x", labelsize=8)
        if logy:
            ax.set_yscale("log")
        if len(series) > 1:
            ax.legend(fontsize=8)
    fig.suptitle("jfrog-mlflow benchmarks (medians; lower is better for seconds)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
