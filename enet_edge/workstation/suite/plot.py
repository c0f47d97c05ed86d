"""The ``make bench`` plot: latency distributions, accuracy against latency, throughput per input size."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict, List, Optional


def render_plot(document: Dict[str, Any], path: Path, measured: str = "") -> Path:
    """PNG: latency distribution per variant, accuracy against latency, and throughput per input size. ``measured``:
    what the figures are (native or emulated CPU kind: :func:`.report.measurement_text`), under the title.

    Linear axes with plain tick labels; every variant is numbered the same way in all three panels.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first = document["runs"][0]["size"]
    latency = [r for r in document["runs"] if r["mode"] == "latency"]
    throughput = [r for r in document["runs"] if r["mode"] == "throughput"] or latency
    fig, axes = plt.subplots(1, 3, figsize=(18, 5.6))
    if latency:
        docs = latency[0]["results"]
        names = [d["variant"] for d in docs]
        colors = {name: plt.cm.tab10(i % 10) for i, name in enumerate(names)}
        ax = axes[0]
        box = ax.boxplot([d["samples_ms"] or [float("nan")] for d in docs], orientation="horizontal",
                         showfliers=True, tick_labels=names, patch_artist=True)
        for patch, name in zip(box["boxes"], names):
            patch.set_facecolor(colors[name])
            patch.set_alpha(0.6)
        ax.set_xlim(left=0)
        ax.set_xlabel("infer-only latency, ms")
        ax.set_title(f"latency, {first[0]}x{first[1]}, 1 synchronous request")
        ax.invert_yaxis()
        ax.grid(axis="x", alpha=0.3)
        _accuracy_panel(axes[1], docs, document["miou"], colors)
        ax = axes[2]
        width = 0.8 / max(len(throughput), 1)
        for i, run in enumerate(throughput):
            values = []
            for name in names:
                doc = next((d for d in run["results"] if d["variant"] == name), None)
                values.append(doc["throughput_fps"] or 0 if doc else 0)
            bars = ax.barh([j + i * width for j in range(len(names))], values, height=width,
                           label=f"{run['size'][0]}x{run['size'][1]}", alpha=0.85)
            ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=2)
        ax.set_yticks([j + width * (len(throughput) - 1) / 2 for j in range(len(names))], names)
        ax.invert_yaxis()
        ax.set_xlim(0, 1.15 * max([b.get_width() for b in ax.patches] or [1]))
        ax.set_xlabel("frames per second (infer-only)")
        mode = "async requests" if throughput is not latency else "1 synchronous request"
        ax.set_title(f"throughput by input size ({mode})")
        ax.legend(title="input", loc="upper right")
        ax.grid(axis="x", alpha=0.3)
    m = document["machine"]
    fig.suptitle(f"enet-edge bench {document['created'][:10]}: {m.get('cpu_model', '?')}, "
                 f"{m.get('logical_cores', '?')} cores; all variants interleaved in one process"
                 + (f"\n{measured}; emulated CPU kinds are not plotted" if measured else ""))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    tmp.replace(path)
    return path


def _accuracy_panel(ax, docs: List[Dict[str, Any]], miou: Dict[str, Optional[float]], colors) -> None:
    """mIoU against median latency; points are numbered and named in a legend (no labels to overlap)."""
    points = [(d["variant"], d["latency_ms"]["median"], 100 * miou[d["variant"]]) for d in docs
              if miou.get(d["variant"]) is not None and d["latency_ms"]["median"] is not None]
    for i, (name, ms, value) in enumerate(points, 1):
        ax.scatter(ms, value, s=60, color=colors[name], label=f"{i}  {name}: {value:.2f}%, {ms:.1f} ms", zorder=3)
        ax.annotate(str(i), (ms, value), fontsize=8, xytext=(5, 5), textcoords="offset points")
    if points:
        values = [p[2] for p in points]
        low = math.floor(min(values) - 1.0)  # a floor near the data, never 0: the differences are tenths
        ax.set_ylim(low, max(math.ceil(max(values) + 0.5), low + 2))
        ax.set_xlim(0, 1.1 * max(p[1] for p in points))
        ax.legend(fontsize=7, loc="lower right")
    ax.set_xlabel("median infer-only latency, ms")
    ax.set_ylabel("CamVid val mIoU, % (axis from " + (f"{ax.get_ylim()[0]:.0f}%)" if points else "-)"))
    ax.set_title("accuracy against latency (up and left is better)")
    ax.grid(alpha=0.3)
