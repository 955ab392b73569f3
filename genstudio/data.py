"""Datasets: Fashion-MNIST / MNIST idx files, folders of images, and the SR photo sets.

Data root: `GENSTUDIO_DATA`, else `../shared/data` beside the repository if it exists,
else `~/.cache/genstudio/data`, where torchvision downloads the MNIST family for
users who have internet.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
from PIL import Image

from genstudio.errors import UserError

# Dataset name -> (folder under the data root, torchvision class name, label names)
IDX_DATASETS = {
    "fashion-mnist": (
        "fashion-mnist",
        "FashionMNIST",
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
    ),
    "mnist": ("mnist", "MNIST", [str(i) for i in range(10)]),
}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


def data_root() -> Path:
    env = os.environ.get("GENSTUDIO_DATA")
    if env:
        return Path(env)
    shared = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
    if shared.is_dir():
        return shared
    return Path.home() / ".cache" / "genstudio" / "data"


def _read_idx(path: Path, header: int) -> np.ndarray:
    with gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=header).copy()  # writable, so torch can share it


def load_idx_dataset(name: str, split: str = "train") -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Returns (images uint8 N x H x W, labels int64 N, label names)."""
    if name not in IDX_DATASETS:
        raise UserError(f"unknown dataset {name!r}; known: {', '.join(IDX_DATASETS)}")
    folder, tv_name, labels = IDX_DATASETS[name]
    prefix = "train" if split == "train" else "t10k"
    raw = data_root() / folder / "raw"
    if not (raw / f"{prefix}-images-idx3-ubyte.gz").exists() and not (raw / f"{prefix}-images-idx3-ubyte").exists():
        raw = _download_with_torchvision(tv_name)

    def find(stem):
        for candidate in (raw / f"{stem}.gz", raw / stem):
            if candidate.exists():
                return candidate
        raise UserError(f"{stem} not found in {raw}")

    images = _read_idx(find(f"{prefix}-images-idx3-ubyte"), 16).reshape(-1, 28, 28)
    targets = _read_idx(find(f"{prefix}-labels-idx1-ubyte"), 8).astype(np.int64)
    return images, targets, labels


def _download_with_torchvision(tv_name: str) -> Path:
    import torchvision

    root = data_root() / "torchvision"
    getattr(torchvision.datasets, tv_name)(root=str(root), train=True, download=True)
    getattr(torchvision.datasets, tv_name)(root=str(root), train=False, download=True)
    return root / tv_name / "raw"


def load_image_folder(path: str | Path, image_size: int, channels: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A folder of images (subfolders = classes, if any) resized to image_size, for users' own data."""
    root = Path(path)
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise UserError(f"no images in {root}")
    classes = sorted({p.parent.relative_to(root).as_posix() for p in files})
    mode = "L" if channels == 1 else "RGB"
    images = np.stack(
        [np.asarray(Image.open(p).convert(mode).resize((image_size, image_size), Image.BICUBIC)) for p in files]
    )
    labels = np.array([classes.index(p.parent.relative_to(root).as_posix()) for p in files], dtype=np.int64)
    return images, labels, classes


def load_labelled_images(dataset: str, split: str, image_size: int = 28, channels: int = 1):
    """Dispatch: a known idx dataset name, or a path to a folder of images."""
    if dataset in IDX_DATASETS:
        return load_idx_dataset(dataset, split)
    return load_image_folder(dataset, image_size, channels)


def kmeans(points: np.ndarray, k: int, seed: int = 0, iterations: int = 30) -> np.ndarray:
    """Cluster ids (N,) of points (N, D) by k-means (k-means++ start, Lloyd's iterations):
    labels made from the images alone, for a self-conditioned generator. Seeded, so a
    resumed run gets the same clusters."""
    import torch

    x = torch.as_tensor(points, dtype=torch.float32)
    if not 1 <= k <= len(x):
        raise UserError(f"k-means needs 1 <= k <= {len(x)} points, got k={k}")
    gen = torch.Generator().manual_seed(seed)
    centres = x[torch.randint(len(x), (1,), generator=gen)]
    nearest = ((x - centres) ** 2).sum(1)
    for _ in range(k - 1):  # k-means++: each new centre drawn in proportion to squared distance
        pick = torch.multinomial(nearest + 1e-12, 1, generator=gen)
        centres = torch.cat([centres, x[pick]])
        nearest = torch.minimum(nearest, ((x - x[pick]) ** 2).sum(1))
    for _ in range(iterations):
        assign = torch.cdist(x, centres).argmin(1)
        counts = torch.bincount(assign, minlength=k).float()
        sums = torch.zeros_like(centres).index_add_(0, assign, x)
        moved = torch.where(counts[:, None] > 0, sums / counts.clamp(min=1)[:, None], centres)
        if torch.equal(moved, centres):
            break
        centres = moved
    return torch.cdist(x, centres).argmin(1).numpy()


def load_photos(subsets: list[str]) -> list[np.ndarray]:
    """RGB uint8 photos from folders under `<data root>/sr` (e.g. 'train/t91'), or absolute folders."""
    photos = []
    for subset in subsets:
        folder = Path(subset) if os.path.isabs(subset) else data_root() / "sr" / subset
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise UserError(f"no images in {folder}")
        photos += [np.asarray(Image.open(p).convert("RGB")) for p in files]
    return photos


def photo_names(subset: str) -> list[str]:
    folder = data_root() / "sr" / subset
    return sorted(p.stem for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


# Photos that ship inside scikit-image and that none of the training data holds: the
# inpainting validation set (chosen by, never trained on); Set5 is reported beside it.
UNSEEN_PHOTOS = (
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "camera",
    "moon",
    "coins",
    "clock",
    "brick",
    "grass",
    "gravel",
)


def unseen_photos() -> list[np.ndarray]:
    """The UNSEEN_PHOTOS as RGB uint8 (grey ones repeated into three channels)."""
    import skimage.data

    photos = []
    for name in UNSEEN_PHOTOS:
        image = np.asarray(getattr(skimage.data, name)())
        photos.append(np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image[..., :3])
    return photos


def unseen_crops(size: int = 256, per_photo: int = 4, seed: int = 0) -> list[np.ndarray]:
    """Seeded crops of the unseen photos: as many as fit by area, up to `per_photo` each."""
    rng = np.random.default_rng(seed)
    crops = []
    for photo in unseen_photos():
        h, w = photo.shape[:2]
        count = int(np.clip(h * w // (size * size), 1, per_photo))
        for _ in range(count):
            y, x = rng.integers(0, h - min(h, size) + 1), rng.integers(0, w - min(w, size) + 1)
            crops.append(photo[y : y + size, x : x + size])
    return crops


EMOJI_STYLES = ["noto", "twemoji", "fluent"]
EMOJI_CREDITS = (
    "Noto Color Emoji (Google, Apache-2.0), Twemoji graphics (Twitter, Inc. and other "
    "contributors, CC-BY-4.0), Microsoft Fluent Emoji Flat (Microsoft Corporation, MIT)"
)


def emoji_split(codes: np.ndarray, held_out: float = 0.2) -> np.ndarray:
    """True where an emoji belongs to the held-out split. The split is by code point, so all
    three vendors' drawings of one emoji fall on the same side and a classifier is judged on
    emoji it has never seen in any style; a stable hash keeps it the same on every machine."""
    import zlib

    return np.array([zlib.crc32(c.encode()) % 1000 < held_out * 1000 for c in codes])


def emoji_halves(codes: np.ndarray) -> np.ndarray:
    """True for half A of the emoji, by code point (a salted hash, independent of emoji_split):
    generators are judged against half B, with half A's category/style mix and as their floor."""
    import zlib

    return np.array([zlib.crc32(("half:" + c).encode()) % 2 == 0 for c in codes])


def premultiply(rgba: np.ndarray) -> np.ndarray:
    """uint8 RGBA -> float32 premultiplied RGBA in [0, 1]: transparent pixels carry no colour,
    so a model never has to learn the meaningless RGB under alpha 0."""
    x = rgba.astype(np.float32) / 255
    x[..., :3] *= x[..., 3:]
    return x


def load_emoji(split: str = "all", image_size: int = 64) -> dict[str, np.ndarray | list[str]]:
    """The emoji set: `images` premultiplied RGBA float32 (N, S, S, 4), `labels` (category),
    `styles` (vendor index into EMOJI_STYLES), `subcategories` (Unicode's subgroup, e.g.
    'animal-bird'; each lies in one category), `codes`, `names`, `label_names`, `style_names`,
    `subcategory_names`.
    split: 'all', 'train' or 'test' (by code point, see emoji_split)."""
    path = data_root() / "emoji" / "emoji64.npz"
    if not path.exists():
        raise UserError(f"{path} not found (set GENSTUDIO_DATA to the folder holding emoji/emoji64.npz)")
    with np.load(path, allow_pickle=False) as f:
        raw = {
            k: f[k]
            for k in ("images", "labels", "vendor", "unified", "name", "classes", "subcategories", "subcategory_names")
        }
    keep = np.ones(len(raw["labels"]), bool)
    if split != "all":
        if split not in ("train", "test"):
            raise UserError(f"split must be 'all', 'train' or 'test', got {split!r}")
        keep = emoji_split(raw["unified"]) == (split == "test")
    images = premultiply(raw["images"][keep])
    if image_size != images.shape[1]:
        import torch
        import torch.nn.functional as F

        t = torch.from_numpy(images).permute(0, 3, 1, 2)
        images = F.interpolate(t, size=(image_size, image_size), mode="area").permute(0, 2, 3, 1).numpy()
    return {
        "images": np.ascontiguousarray(images),
        "labels": raw["labels"][keep].astype(np.int64),
        "styles": np.array([EMOJI_STYLES.index(v) for v in raw["vendor"][keep]], dtype=np.int64),
        "subcategories": raw["subcategories"][keep].astype(np.int64),
        "codes": raw["unified"][keep],
        "names": raw["name"][keep],
        "label_names": [str(c) for c in raw["classes"]],
        "style_names": list(EMOJI_STYLES),
        "subcategory_names": [str(c) for c in raw["subcategory_names"]],
    }
