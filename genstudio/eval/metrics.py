"""Image-quality and distribution metrics."""

from __future__ import annotations

import numpy as np
from scipy import linalg


def rgb_to_y(image: np.ndarray) -> np.ndarray:
    """uint8 RGB (H, W, 3) or gray -> the Y of YCbCr (ITU-R BT.601, range 16-235) as float64,
    the convention SR papers (and MATLAB's rgb2ycbcr) use for PSNR/SSIM."""
    img = image.astype(np.float64)
    if img.ndim == 2 or img.shape[2] == 1:
        return img.reshape(img.shape[:2])
    return 16.0 + (65.481 * img[..., 0] + 128.553 * img[..., 1] + 24.966 * img[..., 2]) / 255.0


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(data_range**2 / mse))


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> float:
    """SSIM with the Gaussian window of Wang et al. (2004), via scikit-image."""
    from skimage.metrics import structural_similarity

    channel_axis = 2 if a.ndim == 3 else None
    return float(
        structural_similarity(
            a.astype(np.float64),
            b.astype(np.float64),
            data_range=data_range,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            channel_axis=channel_axis,
        )
    )


def sr_scores(output: np.ndarray, truth: np.ndarray, border: int) -> tuple[float, float]:
    """(PSNR, SSIM) on the Y channel with `border` pixels cropped from each side."""
    y_out, y_true = rgb_to_y(output), rgb_to_y(truth)
    if border:
        y_out, y_true = y_out[border:-border, border:-border], y_true[border:-border, border:-border]
    return psnr(y_out, y_true), ssim(y_out, y_true)


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (Heusel et al., 2017)."""
    mu_a, mu_b = features_a.mean(0), features_b.mean(0)
    cov_a, cov_b = np.cov(features_a, rowvar=False), np.cov(features_b, rowvar=False)
    covmean, _ = linalg.sqrtm(cov_a @ cov_b, disp=False)
    if not np.isfinite(covmean).all():
        offset = np.eye(len(cov_a)) * 1e-6
        covmean = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    covmean = covmean.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * covmean))


def class_coverage(probabilities: np.ndarray) -> float:
    """Entropy of the mean predicted class distribution; ln K is perfect balance."""
    mean = probabilities.mean(0)
    return float(-(mean * np.log(np.clip(mean, 1e-12, None))).sum())


def copy_rate(samples: np.ndarray, training: np.ndarray, threshold: float = 0.05, batch: int = 256) -> float:
    """Share of samples whose nearest training image lies within RMSE `threshold` (images as
    floats in [0, 1], same shape): a model that memorises its data scores near 1."""
    import torch

    a = torch.from_numpy(samples.reshape(len(samples), -1).astype(np.float32))
    b = torch.from_numpy(training.reshape(len(training), -1).astype(np.float32))
    nearest = torch.cat([torch.cdist(a[i : i + batch], b).min(1).values for i in range(0, len(a), batch)])
    rmse = nearest / np.sqrt(a.shape[1])
    return float((rmse <= threshold).float().mean())


def _knn_radii(features, k: int):
    """Distance of each point to its k-th nearest neighbour in its own set (itself excluded)."""
    import torch

    x = torch.as_tensor(features, dtype=torch.float64)
    radii = []
    for i in range(0, len(x), 1024):
        d = torch.cdist(x[i : i + 1024], x)
        radii.append(d.kthvalue(k + 1, dim=1).values)  # the 0th neighbour is the point itself
    return x, torch.cat(radii)


def _inside(points, manifold, radii) -> np.ndarray:
    """For each point, whether it lies within some manifold point's k-NN ball."""
    import torch

    p = torch.as_tensor(points, dtype=torch.float64)
    out = []
    for i in range(0, len(p), 1024):
        out.append((torch.cdist(p[i : i + 1024], manifold) <= radii[None]).any(1))
    return torch.cat(out).numpy()


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al., 2019) in a feature space: precision,
    the share of generated points inside the real data's k-NN manifold (typical images);
    recall, the share of real points inside the generated manifold (how much of the data's
    variety the model covers)."""
    real_x, real_r = _knn_radii(real, k)
    fake_x, fake_r = _knn_radii(fake, k)
    return float(_inside(fake_x, real_x, real_r).mean()), float(_inside(real_x, fake_x, fake_r).mean())


def within_group_spread(features: np.ndarray, groups: np.ndarray) -> float:
    """Mean distance of a point to the mean of its group (category), averaged over groups: the
    variety within a category (prototypes score low)."""
    spreads = [
        np.linalg.norm(features[groups == g] - features[groups == g].mean(0), axis=1).mean()
        for g in np.unique(groups)
        if (groups == g).sum() > 1
    ]
    return float(np.mean(spreads))
