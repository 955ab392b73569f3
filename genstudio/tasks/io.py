"""Reading and writing images: every mode normalised to L, LA, RGB or RGBA uint8 arrays,
EXIF rotation applied, size bounded, and the recipe written into PNG text metadata."""

from __future__ import annotations

import json
import urllib.parse
import uuid
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin

from genstudio.errors import UserError

RECIPE_KEY = "genstudio"


def max_pixels() -> int:
    """Largest accepted image (pixels); GENSTUDIO_MAX_PIXELS overrides (default 4096 x 4096)."""
    from genstudio.limits import Limits

    return Limits.from_env().max_pixels


def _check_size(width: int, height: int) -> None:
    if width * height > max_pixels():
        raise UserError(f"image is {width}x{height}; the limit is {max_pixels():,} pixels (GENSTUDIO_MAX_PIXELS)")


def normalize_pil(image: Image.Image) -> np.ndarray:
    """Any PIL image -> uint8 array: (H, W) gray, (H, W, 2) gray+alpha, (H, W, 3) or (H, W, 4)."""
    _check_size(image.width, image.height)
    image = ImageOps.exif_transpose(image)
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if arr.max() > 255 else 255.0
        return np.clip(arr / peak * 255 + 0.5, 0, 255).astype(np.uint8)
    if image.mode == "F":
        arr = np.asarray(image, dtype=np.float64)
        return np.clip(arr * (255 if arr.max() <= 1 else 1) + 0.5, 0, 255).astype(np.uint8)
    if image.mode == "1":
        image = image.convert("L")
    if image.mode == "PA":
        image = image.convert("RGBA")
    if image.mode not in ("L", "LA", "RGB", "RGBA"):
        image = image.convert("RGB")  # CMYK, YCbCr, LAB, HSV ...
    return np.asarray(image)


def read_image(source: str | Path | Image.Image | np.ndarray) -> np.ndarray:
    """A path, PIL image or array -> normalised uint8 array. Bad files raise ValueError."""
    if source is None:
        raise UserError("no image given")
    if isinstance(source, np.ndarray):
        return normalize_array(source)
    if isinstance(source, Image.Image):
        return normalize_pil(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own pixel limit decides
            image = Image.open(source)
        with image:
            _check_size(image.width, image.height)  # from the header, before decoding a single pixel
            image.load()
            return normalize_pil(image)
    except (OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise UserError(
            f"{Path(str(source)).name} is not an image we can read (PNG, JPEG, WebP, BMP, TIFF, GIF): "
            f"not a readable image ({exc.__class__.__name__})"
        ) from exc


def normalize_array(arr: np.ndarray) -> np.ndarray:
    """Arrays from UIs and callers: floats in [0, 1] or uint16 scaled to uint8; 1/2/3/4 channels kept."""
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (2, 3, 4)):
        raise UserError(f"expected an image of shape (H, W) or (H, W, 1-4), got {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise UserError("image is empty")
    _check_size(arr.shape[1], arr.shape[0])
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == bool:
        return arr.astype(np.uint8) * 255
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise UserError("image contains NaN or infinite values")
        scale = 255.0 if arr.max(initial=0) <= 1.0 else 1.0
        return np.clip(arr * scale + 0.5, 0, 255).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer):
        peak = 65535 if arr.max(initial=0) > 255 else 255
        return np.clip(arr.astype(np.float64) / peak * 255 + 0.5, 0, 255).astype(np.uint8)
    raise UserError(f"unsupported pixel type {arr.dtype}")


def to_pil(image: np.ndarray) -> Image.Image:
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    return Image.fromarray(image)


def make_recipe(task: str, **settings: Any) -> dict[str, Any]:
    """The settings that made an output, plus a unique id (to trace one output, and so that
    two identical requests never share a cache file), for PNG text / mp4 metadata."""
    from genstudio import __version__

    return {
        "app": f"genstudio {__version__}",
        "task": task,
        "id": uuid.uuid4().hex,
        **{k: v for k, v in settings.items() if v is not None},
    }


PROVENANCE = ("app", "id")  # recorded with an output, not settings that remake it


def recipe_to_query(recipe: dict[str, Any]) -> str:
    """A recipe as a URL query string (the settings only): strings as they are, other values
    as JSON. `recipe_from_query` reads it back."""
    return urllib.parse.urlencode(
        {k: v if isinstance(v, str) else json.dumps(v) for k, v in recipe.items() if k not in PROVENANCE}
    )


def recipe_from_query(text: str) -> dict[str, Any]:
    """The recipe in a link (a whole URL or its query string). Values that read as JSON
    (numbers, lists, true/false) are read as such, the rest kept as text."""
    query = urllib.parse.urlsplit(text).query if "?" in text else text
    recipe: dict[str, Any] = {}
    for key, value in urllib.parse.parse_qsl(query):
        try:
            recipe[key] = json.loads(value)
        except ValueError:
            recipe[key] = value
    return recipe


def save_png(image: np.ndarray, path: str | Path, recipe: dict[str, Any] | None = None) -> Path:
    """Write a PNG whose text metadata holds the recipe that made it."""
    info = PngImagePlugin.PngInfo()
    if recipe is not None:
        info.add_text(RECIPE_KEY, json.dumps(recipe, sort_keys=True))
    to_pil(image).save(path, pnginfo=info)
    return Path(path)


def read_recipe(source: str | Path | Image.Image) -> dict[str, Any] | None:
    """The recipe stored in a PNG made by GenStudio (a path or an opened image), or None."""
    if isinstance(source, Image.Image):
        text = source.info.get(RECIPE_KEY) or getattr(source, "text", {}).get(RECIPE_KEY)
        return json.loads(text) if text else None
    with Image.open(source) as image:
        return read_recipe(image)
