import numpy as np
import pytest
from PIL import Image

from genstudio.tasks.inpaint import inpaint, mask_from_array


def _mask(shape, box=(40, 80, 30, 90)):
    m = np.zeros(shape, np.uint8)
    m[box[0] : box[1], box[2] : box[3]] = 255
    return m


@pytest.mark.parametrize("method", ["tiny-inpaint", "telea", "navier-stokes"])
def test_outside_mask_is_exact(tiny, photo, method):
    m = _mask(photo.shape[:2])
    out = inpaint(photo, m, tiny(method) if method.startswith("tiny") else method).image
    outside = m == 0
    assert np.array_equal(out[outside], photo[outside])
    assert not np.array_equal(out[~outside], photo[~outside])


def test_feather_and_dilate_stay_inside_the_grown_hole(tiny, photo):
    m = _mask(photo.shape[:2])
    result = inpaint(photo, m, tiny("tiny-inpaint"), dilate=3, feather=4)
    outside = result.mask == 0
    assert result.mask.sum() > m.sum()  # dilated
    assert np.array_equal(result.image[outside], photo[outside])


def test_empty_mask_returns_input(tiny, photo):
    result = inpaint(photo, np.zeros(photo.shape[:2], np.uint8), tiny("tiny-inpaint"))
    assert np.array_equal(result.image, photo) and "empty" in result.notice


def test_full_mask_refused(tiny, photo):
    with pytest.raises(ValueError, match="whole image"):
        inpaint(photo, np.full(photo.shape[:2], 255, np.uint8), tiny("tiny-inpaint"))


def test_mask_of_other_size_resized_nearest(tiny, photo):
    small = _mask((32, 32), (8, 16, 8, 16))
    result = inpaint(photo, small, "telea")
    assert result.mask.shape == photo.shape[:2]
    assert result.mask[40:60, 40:60].all() and not result.mask[:30].any()


def test_odd_sizes_and_tiny_images(tiny):
    rng = np.random.default_rng(0)
    for h, w in [(7, 13), (3, 3), (101, 57)]:
        image = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        m = np.zeros((h, w), np.uint8)
        m[h // 2, w // 2] = 1
        out = inpaint(image, m, tiny("tiny-inpaint")).image
        assert out.shape == image.shape
        assert np.array_equal(out[m == 0], image[m == 0])


def test_rgba_alpha_kept_and_gray_stays_gray(tiny, photo):
    rgba = np.dstack([photo, np.linspace(0, 255, photo.shape[1], dtype=np.uint8)[None].repeat(photo.shape[0], 0)])
    m = _mask(photo.shape[:2])
    out = inpaint(rgba, m, tiny("tiny-inpaint")).image
    assert out.shape == rgba.shape and np.array_equal(out[..., 3], rgba[..., 3])
    gray = np.asarray(Image.fromarray(photo).convert("L"))
    for method in ("tiny-inpaint", "tiny-inpaint-gray", "telea"):
        out = inpaint(gray, m, tiny(method) if method.startswith("tiny") else method).image
        assert out.shape == gray.shape and np.array_equal(out[m == 0], gray[m == 0])


def test_crop_path_equals_whole_on_a_small_hole_for_local_methods(tiny):
    """Crop-and-paste: only the crop is processed and pasted back; far pixels are untouched,
    and a large image with a small hole works at full resolution."""
    rng = np.random.default_rng(1)
    big = rng.integers(0, 255, (900, 1200, 3), dtype=np.uint8)
    m = np.zeros(big.shape[:2], np.uint8)
    m[400:420, 600:630] = 1
    crop = inpaint(big, m, tiny("tiny-inpaint"), strategy="crop", padding=16)
    assert np.array_equal(crop.image[m == 0], big[m == 0])
    whole = inpaint(big, m, tiny("tiny-inpaint"), strategy="whole", max_side=512)
    assert np.array_equal(whole.image[m == 0], big[m == 0])
    assert not np.array_equal(crop.image[m == 1], whole.image[m == 1])  # full-res vs reduced fill


def test_mask_conventions():
    assert mask_from_array(np.array([[0, 255]], np.uint8), (1, 2)).tolist() == [[0, 1]]
    assert mask_from_array(np.array([[False, True]]), (1, 2)).tolist() == [[0, 1]]
    assert mask_from_array(np.array([[0, 1]], np.uint8), (1, 2)).tolist() == [[0, 1]]
    rgba = np.zeros((1, 2, 4), np.uint8)
    rgba[0, 1, 3] = 200
    assert mask_from_array(rgba, (1, 2)).tolist() == [[0, 1]]


def test_wrong_model_and_method(tiny, photo):
    with pytest.raises(ValueError, match="not an inpainting model"):
        inpaint(photo, _mask(photo.shape[:2]), tiny("tiny-gan"))
    with pytest.raises(ValueError, match="unknown method"):
        inpaint(photo, _mask(photo.shape[:2]), "photoshop")
