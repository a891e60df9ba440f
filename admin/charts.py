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


def _text_width(label: str) -> float:
    """Rough width at 13px: full-width characters ~13px, others ~7.5px."""
    return sum(13.0 if ord(ch) > 0x2E7F else 7.5 for ch in label)


def bar_chart(
    title: str, labels: Sequence[str], values: Sequence[float], *, unit: str = "件"
) -> Markup:
    """Horizontal bars, one per label (values ≥ 0)."""
    count = len(labels)
    height = max(count, 1) * (BAR_HEIGHT + GAP) + 30
    top = max([float(v) for v in values] + [1.0])
    label_width = min(LABEL_WIDTH, max([_text_width(label) for label in labels] + [40]) + 16)
    plot = WIDTH - label_width - 70
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
            f'<text x="{label_width - 8}" y="{y + BAR_HEIGHT - 6}" text-anchor="end" '
            f'font-size="13" fill="#1d2733">{escape(label)}</text>'
        )
        parts.append(
            f'<rect x="{label_width}" y="{y}" width="{width}" height="{BAR_HEIGHT}" '
            f'fill="{COLOURS[0]}" rx="3"><title>{escape(label)}: {escape(shown)}{escape(unit)}'
            "</title></rect>"
        )
        parts.append(
            f'<text x="{label_width + width + 6}" y="{y + BAR_HEIGHT - 6}" font-size="13" '
            f'fill="#1d2733">{escape(shown)}{escape(unit)}</text>'
        )
    if count == 0:
        parts.append('<text x="10" y="24" font-size="14" fill="#5b6776">データがありません</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated value is escaped above
