"""Small PNG charts for materialisation metadata: the XmR (SPC) chart of a measure.

Rendered off-screen with matplotlib's Agg canvas (no display, no pyplot global state), so it is
safe in worker processes and threads.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd

from cov_pipeline.stats import as_float_array

__all__ = ["VARIATION_COLOURS", "png_markdown", "spc_chart_png"]

# Point colours by variation label, after the Making Data Count palette: grey for common cause,
# blue for improvement, orange for concern, purple for special cause with no direction.
VARIATION_COLOURS: dict[str, str] = {
    "common_cause": "#a6a6a6",
    "improvement": "#289de0",
    "concern": "#fab428",
    "special_cause_high": "#361475",
    "special_cause_low": "#361475",
}
_LINE_COLOUR = "#231f20"
_TARGET_COLOUR = "#de1b1b"


def _x_positions(periods: pd.Series) -> tuple[np.ndarray, list[str] | None]:
    """Plot positions: the dates themselves, or 0..n-1 with the labels for other period types."""
    if pd.api.types.is_datetime64_any_dtype(periods):
        return periods.to_numpy(), None
    return np.arange(len(periods)), periods.astype(str).tolist()


def spc_chart_png(
    frame: pd.DataFrame,
    title: str,
    value_label: str,
    period_col: str = "period",
    value_col: str = "value",
    target: float | None = None,
    width_inches: float = 8.0,
    height_inches: float = 3.5,
    dpi: int = 100,
) -> bytes:
    """PNG bytes of one XmR chart from the rows of one chart in :func:`spc_series` output.

    Draws the values (line, with points coloured by ``spc_variation``), the centre line and the
    process limits (drawn per rebase segment, so a rebase shows as a step), and the target
    where given. The image is ``width_inches × dpi`` by ``height_inches × dpi`` pixels (800 ×
    350 by default). Rows are sorted by period; pass one group's rows only.
    """
    needed = [period_col, value_col, "spc_centre", "spc_lower_limit", "spc_upper_limit"]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise KeyError(f"spc_chart_png: frame has no column(s) {missing}")
    data = frame.sort_values(period_col, kind="mergesort").reset_index(drop=True)
    x, labels = _x_positions(data[period_col])
    y = as_float_array(data[value_col])
    variation = (
        data["spc_variation"].astype(object).where(data["spc_variation"].notna(), "")
        if "spc_variation" in data.columns
        else pd.Series("", index=data.index)
    )
    segment = (
        data["spc_segment"].to_numpy() if "spc_segment" in data.columns else np.ones(len(data))
    )

    # matplotlib is imported when a chart is drawn: it would add over a second to every load of
    # the definitions (the UI's start, each run's start)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    fig = Figure(figsize=(width_inches, height_inches), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(x, y, color=_LINE_COLOUR, linewidth=1, zorder=2)
    colours = variation.map(VARIATION_COLOURS).fillna(VARIATION_COLOURS["common_cause"])
    ax.scatter(x, y, c=colours.tolist(), s=18, zorder=3, edgecolors="none")

    for seg in pd.unique(segment):
        in_seg = segment == seg
        xs = x[in_seg]
        for col, style in (
            ("spc_centre", "-"),
            ("spc_lower_limit", "--"),
            ("spc_upper_limit", "--"),
        ):
            level = as_float_array(data.loc[in_seg, col])
            level = level[np.isfinite(level)]
            if len(level) and len(xs):
                # Limits are constant within a segment; draw them across its whole span.
                ax.plot([xs[0], xs[-1]], [level[0], level[0]], style, color="#7f7f7f", linewidth=1)
    if target is not None:
        ax.axhline(target, color=_TARGET_COLOUR, linestyle=":", linewidth=1.2)

    ax.set_title(title, fontsize=10, loc="left")
    ax.set_ylabel(value_label, fontsize=9)
    ax.tick_params(labelsize=8)
    if labels is not None:
        step = max(1, len(labels) // 12)
        ax.set_xticks(x[::step], labels[::step], rotation=45, ha="right")
    else:
        fig.autofmt_xdate()
    ax.spines[["top", "right"]].set_visible(False)

    handles = []
    for colour in dict.fromkeys(VARIATION_COLOURS.values()):
        names = [v for v, c in VARIATION_COLOURS.items() if c == colour and (variation == v).any()]
        if names:
            # special_cause_high / _low share a colour and one legend entry: "special cause".
            label = names[0].replace("_", " ") if len(names) == 1 else "special cause"
            label = label.removesuffix(" high").removesuffix(" low")
            handles.append(Line2D([], [], marker="o", linestyle="", color=colour, label=label))
    handles.append(Line2D([], [], linestyle="--", color="#7f7f7f", label="process limits"))
    if target is not None:
        handles.append(Line2D([], [], linestyle=":", color=_TARGET_COLOUR, label="target"))
    # Above the plot, right-aligned, so it never hides a point; the title sits on the left.
    ax.legend(
        handles=handles,
        fontsize=7,
        frameon=False,
        loc="lower right",
        bbox_to_anchor=(1.0, 1.0),
        ncols=len(handles),
        handletextpad=0.3,
        columnspacing=1.0,
    )
    fig.tight_layout()

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)  # no bbox_inches: keep the requested size
    return buffer.getvalue()


def png_markdown(png_bytes: bytes, alt: str) -> str:
    """A Markdown image with the PNG inline as a base64 data URI (for Dagster ``MetadataValue.md``)."""
    safe_alt = alt.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
    encoded = base64.b64encode(png_bytes).decode("ascii")
    return f"![{safe_alt}](data:image/png;base64,{encoded})"


def estimates_chart_png(
    frame: pd.DataFrame,
    x_col: str,
    series_col: str,
    value_col: str = "value",
    lower_col: str = "ci95_lower",
    upper_col: str = "ci95_upper",
    title: str = "",
    value_label: str = "",
    width: float = 8.0,
    height: float = 3.5,
    dpi: int = 100,
) -> bytes:
    """Estimates with their 95% confidence intervals over time, one line per series (PNG bytes).

    For measures observed at a few points (survey waves), where a process chart does not apply.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height))
    try:
        for name, series in frame.sort_values(x_col).groupby(series_col, sort=True):
            x = series[x_col].to_numpy()
            y = series[value_col].to_numpy(dtype=float)
            errors = np.vstack(
                [
                    y - series[lower_col].to_numpy(dtype=float),
                    series[upper_col].to_numpy(dtype=float) - y,
                ]
            )
            ax.errorbar(x, y, yerr=errors, marker="o", capsize=3, label=str(name))
        ax.set_title(title)
        ax.set_ylabel(value_label)
        ax.legend(fontsize=7, loc="best")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    return buffer.getvalue()
