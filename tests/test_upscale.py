import numpy as np
import pytest
from PIL import Image

from genstudio.eval.metrics import psnr, rgb_to_y, sr_scores, ssim
from genstudio.tasks.io import read_image
from genstudio.tasks.upscale import upscale_array


@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA", "P", "LA"])
def test_modes(tiny, photo, mode):
    model = tiny("tiny-sr2")
    image = read_image(Image.fromarray(photo).convert(mode))
    out = upscale_array(image, model)
    assert out.shape[:2] == (image.shape[0] * 2, image.shape[1] * 2)
    expected_channels = {"RGB": 3, "L": None, "RGBA": 4, "P": 3, "LA": 2}[mode]
    assert (out.ndim == 2) if expected_channels is None else out.shape[2] == expected_channels
    if mode == "RGBA":  # alpha is bicubic-upscaled alpha
        alpha = np.asarray(Image.fromarray(image[..., 3]).resize((out.shape[1], out.shape[0]), Image.BICUBIC))
        assert np.array_equal(out[..., 3], alpha)


@pytest.mark.parametrize("size", [(1, 1), (17, 33), (65, 7)])
def test_odd_sizes(tiny, photo, size):
    out = upscale_array(photo[: size[0], : size[1]], tiny("tiny-sr4"))
    assert out.shape == (size[0] * 4, size[1] * 4, 3)


def test_tiled_matches_untiled(tiny, photo):
    model = tiny("tiny-sr2")
    whole = upscale_array(photo, model, tile=0)
    tiled = upscale_array(photo, model, tile=40, overlap=16)
    assert np.abs(whole.astype(int) - tiled.astype(int)).max() <= 2


def test_wrong_task(tiny, photo):
    with pytest.raises(ValueError, match="not a super-resolution model"):
        upscale_array(photo, tiny("tiny-gan"))


def test_psnr_known_values():
    a = np.zeros((8, 8))
    b = np.full((8, 8), 10.0)
    assert psnr(a, b) == pytest.approx(10 * np.log10(255**2 / 100))
    assert psnr(a, a) == float("inf")


def test_ssim_known_values():
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 255, (64, 64))
    assert ssim(a, a) == pytest.approx(1.0)
    assert ssim(a, 255 - a) < 0
    # scikit-image's reference value for a noisy camera crop, Gaussian window (Wang et al.)
    from skimage.data import camera
    from skimage.metrics import structural_similarity

    img = camera()[:128, :128].astype(float)
    noisy = np.clip(img + rng.normal(0, 20, img.shape), 0, 255)
    ref = structural_similarity(
        img, noisy, data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    assert ssim(img, noisy) == pytest.approx(ref)


def test_y_channel_and_border():
    white = np.full((4, 4, 3), 255, np.uint8)
    assert rgb_to_y(white) == pytest.approx(np.full((4, 4), 235.0))
    black = np.zeros((4, 4, 3), np.uint8)
    assert rgb_to_y(black) == pytest.approx(np.full((4, 4), 16.0))
    truth = np.zeros((20, 20, 3), np.uint8)
    out = truth.copy()
    out[0, :] = 255  # an error only in the border is cropped away
    assert sr_scores(out, truth, border=2)[0] == float("inf")
