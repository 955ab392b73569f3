"""Random hole masks that look like what people paint: strokes, blobs and boxes."""

from __future__ import annotations

import cv2
import numpy as np

BANDS = {"5-10%": (0.05, 0.10), "10-20%": (0.10, 0.20), "20-40%": (0.20, 0.40)}


def random_mask(
    height: int, width: int, rng: np.random.Generator, coverage: tuple[float, float] = (0.05, 0.40)
) -> np.ndarray:
    """A uint8 mask (1 = hole) whose hole ratio lies in `coverage`, built from brush strokes,
    blobs and boxes until the ratio is reached; retried if a shape overshoots."""
    low, high = coverage
    target = rng.uniform(low, high)
    scale = min(height, width)
    for _ in range(20):
        mask = np.zeros((height, width), np.uint8)
        while mask.mean() < target:
            kind = rng.choice(["stroke", "stroke", "blob", "box"])
            if kind == "stroke":
                points = [(int(rng.integers(0, width)), int(rng.integers(0, height)))]
                for _ in range(int(rng.integers(2, 6))):
                    angle, length = rng.uniform(0, 2 * np.pi), rng.uniform(0.1, 0.4) * scale
                    x, y = points[-1]
                    points.append(
                        (
                            int(np.clip(x + length * np.cos(angle), 0, width - 1)),
                            int(np.clip(y + length * np.sin(angle), 0, height - 1)),
                        )
                    )
                thickness = max(1, int(rng.uniform(0.02, 0.09) * scale))
                cv2.polylines(mask, [np.array(points, np.int32)], False, 1, thickness, lineType=cv2.LINE_8)
            elif kind == "blob":
                center = (int(rng.integers(0, width)), int(rng.integers(0, height)))
                axes = (max(1, int(rng.uniform(0.04, 0.18) * scale)), max(1, int(rng.uniform(0.04, 0.18) * scale)))
                cv2.ellipse(mask, center, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
            else:
                bw, bh = int(rng.uniform(0.08, 0.35) * width), int(rng.uniform(0.08, 0.35) * height)
                x, y = int(rng.integers(0, max(1, width - bw))), int(rng.integers(0, max(1, height - bh)))
                mask[y : y + bh, x : x + bw] = 1
        if low <= mask.mean() <= high:
            return mask
    return mask  # rare: the last try overshot; still a valid, if large, mask
