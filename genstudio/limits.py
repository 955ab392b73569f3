"""Bounds on one request, so nobody can occupy a small server for minutes.

Read from the environment when asked (GENSTUDIO_MAX_IMAGES, GENSTUDIO_MAX_FRAMES,
GENSTUDIO_MAX_GRID, GENSTUDIO_MAX_DISPLAY, GENSTUDIO_MAX_FPS, GENSTUDIO_MAX_PIXELS),
never cached at import, so a deployment can tighten them without code changes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Limits:
    max_images: int = 256  # images in one sample grid
    max_frames: int = 1200  # frames in one latent-walk video
    max_grid: int = 4  # walks per side of a walk grid
    max_display: int = 1024  # side of a displayed/encoded frame, pixels
    max_fps: int = 60
    max_pixels: int = 4096 * 4096  # input image size for upscale/inpaint

    @classmethod
    def from_env(cls) -> "Limits":
        values = {}
        for f in fields(cls):
            raw = os.environ.get(f"GENSTUDIO_{f.name.upper()}")
            if raw:
                values[f.name] = int(raw)
        return cls(**values)
