"""Training curves drawn on the server as one PNG: a small panel per series, each on its own
y-axis (a critic's hinge near 1 and an L1 near 0.05 would flatten each other on one axis),
each titled with its colour and name. The picture is made from the card it shows, so it
cannot show another model's data; the PNG carries the model and series it plots."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
PANEL = (300, 150)  # width, height of one series' panel
COLUMNS = 2
MARGIN = 44  # left of a panel's plot: room for its y labels


def _number(value: float) -> str:
    return f"{value:.3g}"


def curve_panels(rows: list[dict], series: list[str], title: str) -> np.ndarray:
    """RGB uint8: one panel per series of `rows` (log rows with a 'step'), `COLUMNS` a row."""
    font = ImageFont.load_default()
    cols = min(COLUMNS, len(series))
    grid_rows = -(-len(series) // cols)
    width, height = PANEL[0] * cols, PANEL[1] * grid_rows + 24
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((6, 4), title, fill="black", font=font)
    for i, name in enumerate(series):
        points = [(r["step"], r[name]) for r in rows if isinstance(r.get(name), (int, float))]
        x0, y0 = (i % cols) * PANEL[0], 24 + (i // cols) * PANEL[1]
        colour = COLOURS[i % len(COLOURS)]
        draw.rectangle([x0 + 6, y0 + 5, x0 + 16, y0 + 15], fill=colour)  # the swatch
        draw.text((x0 + 20, y0 + 4), name, fill="black", font=font)
        left, top, right, bottom = x0 + MARGIN, y0 + 22, x0 + PANEL[0] - 10, y0 + PANEL[1] - 18
        draw.rectangle([left, top, right, bottom], outline="#bbbbbb")
        if not points:
            continue
        steps, values = np.array(points, dtype=float).T
        lo, hi = float(values.min()), float(values.max())
        if hi == lo:
            lo, hi = lo - 0.5 * (abs(lo) or 1), hi + 0.5 * (abs(hi) or 1)
        s_lo, s_hi = float(steps.min()), float(max(steps.max(), steps.min() + 1))
        xs = left + (steps - s_lo) / (s_hi - s_lo) * (right - left)
        ys = bottom - (values - lo) / (hi - lo) * (bottom - top)
        if len(points) == 1:
            draw.ellipse([xs[0] - 2, ys[0] - 2, xs[0] + 2, ys[0] + 2], fill=colour)
        else:
            draw.line(list(zip(xs.tolist(), ys.tolist())), fill=colour, width=2)
        draw.text((x0 + 4, top), _number(hi), fill="#555555", font=font)
        draw.text((x0 + 4, bottom - 10), _number(lo), fill="#555555", font=font)
        draw.text((left, bottom + 3), f"step {int(s_lo)}", fill="#555555", font=font)
        end = f"{int(s_hi)}"
        draw.text((right - draw.textlength(end, font=font), bottom + 3), end, fill="#555555", font=font)
    return np.asarray(image)
