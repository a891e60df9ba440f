"""A small server-rendered SVG bar chart (no JavaScript, no inline style: CSP-safe).

Labels are escaped; the chart carries a <title> and each bar an accessible label, and the
same numbers are always shown in a table next to it.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

BAR_HEIGHT = 22
GAP = 8
LABEL_WIDTH = 210
WIDTH = 720
COLOURS = ("#0b5cad", "#b00020", "#1f7a3a", "#a15c00")


def bar_chart(
    title: str, labels: Sequence[str], values: Sequence[float], *, unit: str = "件"
) -> Markup:
    """Horizontal bars, one per label (values ≥ 0)."""
    count = len(labels)
    height = max(count, 1) * (BAR_HEIGHT + GAP) + 30
    top = max([float(v) for v in values] + [1.0])
    plot = WIDTH - LABEL_WIDTH - 70
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 10 + i * (BAR_HEIGHT + GAP)
        width = 0 if top == 0 else round(plot * float(value) / top, 1)
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + BAR_HEIGHT - 6}" text-anchor="end" '
            f'font-size="13" fill="#1d2733">{escape(label)}</text>'
        )
        parts.append(
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{width}" height="{BAR_HEIGHT}" '
            f'fill="{COLOURS[0]}" rx="3"><title>{escape(label)}: {escape(shown)}{escape(unit)}'
            "</title></rect>"
        )
        parts.append(
            f'<text x="{LABEL_WIDTH + width + 6}" y="{y + BAR_HEIGHT - 6}" font-size="13" '
            f'fill="#1d2733">{escape(shown)}{escape(unit)}</text>'
        )
    if count == 0:
        parts.append('<text x="10" y="24" font-size="14" fill="#5b6776">データがありません</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated value is escaped above
