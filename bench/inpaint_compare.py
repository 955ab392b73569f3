"""The PSNR-best and the sharper inpainting model side by side on unseen photos' 20-40 % holes,
cropped around the hole and enlarged, for the README (assets/inpaint-sharp-vs-psnr.png).

    .venv/bin/python bench/inpaint_compare.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
MODELS = ("inpaint-photo", "inpaint-photo-sharp")


def main(rows: int = 4, side: int = 128) -> None:
    from genstudio import registry
    from genstudio.eval.evaluate import hole_detail, inpaint_benchmark
    from genstudio.tasks.images import grid, resize
    from genstudio.tasks.inpaint import inpaint
    from genstudio.tasks.io import save_png

    models = [registry.load(name) for name in MODELS]
    cases = [c for c in inpaint_benchmark("unseen", 1) if c[0] == "20-40%"]
    tiles = []
    for _, image, mask in cases[1 :: max(1, len(cases) // rows)][:rows]:
        ys, xs = np.nonzero(mask)  # a window on the middle of the hole
        y = int(np.clip(ys.mean() - side // 2, 0, image.shape[0] - side))
        x = int(np.clip(xs.mean() - side // 2, 0, image.shape[1] - side))
        window = (slice(y, y + side), slice(x, x + side))
        holed = image.copy()
        holed[mask.astype(bool)] = 255
        fills = [inpaint(image, mask, method).image for method in ("telea", *models)]
        print(
            "detail (Telea, " + ", ".join(MODELS) + "):",
            ", ".join(f"{hole_detail(f, image, mask.astype(bool)):.2f}" for f in fills),
        )
        tiles += [holed[window], *(f[window] for f in fills), image[window]]
    picture = resize(grid(np.stack(tiles), 5, padding=4), 2)
    save_png(
        picture,
        REPO / "assets" / "inpaint-sharp-vs-psnr.png",
        {"columns": "hole, Telea, " + ", ".join(MODELS) + ", photo"},
    )


if __name__ == "__main__":
    main()
