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


def test_invert_keeps_what_was_painted(tiny, photo):
    m = _mask(photo.shape[:2])
    result = inpaint(photo, m, "telea", invert=True)
    assert np.array_equal(result.image[m > 0], photo[m > 0])
    assert (result.mask > 0).sum() == (m == 0).sum()


@pytest.mark.parametrize("method", ["tiny-inpaint", "telea"])
@pytest.mark.parametrize("sides", [(32, 0, 32, 0), (0, 100, 5, 1), (7, 7, 7, 7)])
def test_outpaint_keeps_the_photo_exact_and_fills_the_border(tiny, photo, method, sides):
    from genstudio.tasks.inpaint import outpaint

    left, top, right, bottom = sides
    result = outpaint(photo, sides, tiny(method) if method.startswith("tiny") else method)
    h, w = photo.shape[:2]
    assert result.image.shape == (h + top + bottom, w + left + right, 3)
    inside = result.image[top : top + h, left : left + w]
    assert np.array_equal(inside, photo)
    assert result.mask.shape == result.image.shape[:2] and (result.mask > 0).sum() == result.mask.size - h * w
    border = result.image[result.mask > 0].astype(float)
    assert border.std() > 1  # filled from the photo, not a flat colour


def test_outpaint_gray_rgba_and_bad_requests(photo):
    from genstudio.tasks.inpaint import outpaint, parse_extension

    gray = photo[..., 0]
    assert outpaint(gray, (3, 0, 0, 4), "telea").image.shape == (gray.shape[0] + 4, gray.shape[1] + 3)
    rgba = np.dstack([photo, np.full(photo.shape[:2], 200, np.uint8)])
    out = outpaint(rgba, (0, 0, 10, 0), "telea").image
    assert out.shape[2] == 4 and np.array_equal(out[:, : photo.shape[1]], rgba)
    assert "Nothing to extend" in outpaint(photo, (0, 0, 0, 0), "telea").notice
    assert parse_extension("16") == (16, 16, 16, 16) and parse_extension("1, 2,3,4") == (1, 2, 3, 4)
    for bad, message in (("1,2,3", "four whole numbers"), ("a,b,c,d", "four whole numbers")):
        with pytest.raises(ValueError, match=message):
            parse_extension(bad)
    with pytest.raises(ValueError, match="0 or more"):
        outpaint(photo, (-1, 0, 0, 0), "telea")
    with pytest.raises(ValueError, match="at most 4x"):
        outpaint(photo, (0, 0, 10_000, 0), "telea")
    with pytest.raises(ValueError, match="the limit is"):
        outpaint(photo, (100, 100, 100, 100), "telea", max_pixels=200 * 200)


def test_mask_overlay_tints_only_the_filled_part(photo):
    from genstudio.tasks.inpaint import mask_overlay

    m = _mask(photo.shape[:2])
    shown = mask_overlay(photo, m)
    assert np.array_equal(shown[m == 0], photo[m == 0]) and not np.array_equal(shown[m > 0], photo[m > 0])


def test_hole_detail_is_one_for_the_photo_and_falls_for_a_blurred_fill(photo):
    import cv2

    from genstudio.eval.evaluate import hole_detail

    hole = _mask(photo.shape[:2]).astype(bool)
    blurred = photo.copy()
    blurred[hole] = cv2.GaussianBlur(photo, (9, 9), 3)[hole]
    noisy = photo.copy()
    noisy[hole] = np.clip(photo[hole] + np.random.default_rng(0).normal(0, 40, photo[hole].shape), 0, 255)
    assert hole_detail(photo, photo, hole) == pytest.approx(1.0)
    assert hole_detail(blurred, photo, hole) < 0.8 < 1.2 < hole_detail(noisy, photo, hole)


def test_flips_average_the_fills_of_mirrored_copies_and_keep_the_rest_exact(tiny, photo):
    import dataclasses

    import torch

    from genstudio.tasks.inpaint import classical_fill

    class Ramp(torch.nn.Module):
        """Adds a left-to-right and a top-to-bottom ramp: the fills of mirrored copies, mirrored
        back and averaged, add a flat 0.5 (2 passes: left-right only; 4: both)."""

        multiple = 1

        def forward(self, x, mask):
            h, w = x.shape[-2:]
            return x + 0.2 * (torch.linspace(0, 1, w) + torch.linspace(0, 1, h)[:, None])

    model, m = dataclasses.replace(tiny("tiny-inpaint"), net=Ramp()), _mask(photo.shape[:2])
    hole = m > 0
    telea = classical_fill(photo, hole).astype(np.float32)
    h, w = photo.shape[:2]
    column, row = np.linspace(0, 1, w)[None, :, None], np.linspace(0, 1, h)[:, None, None]
    expected = {1: telea + 51 * (column + row), 2: telea + 51 * (0.5 + row), 4: telea + 51 * 1.0}
    for flips, want in expected.items():
        out = inpaint(photo, m, model, strategy="whole", flips=flips).image
        assert np.abs(out[hole] - np.clip(want, 0, 255)[hole]).max() <= 1, flips
        assert np.array_equal(out[~hole], photo[~hole])
    with pytest.raises(ValueError, match="flips must be one of 1, 2, 4"):
        inpaint(photo, m, model, flips=3)


def test_the_outpaint_tab_shows_its_mask_over_the_result(photo, tmp_path):
    """The Extend button's "Mask used" is the result with the new border tinted (issue 41.14: a
    white border on a white panel could not be seen), the photo itself shown as it is."""
    from PIL import Image

    from genstudio.ui.tabs.inpaint import extend_image

    Image.fromarray(photo).save(tmp_path / "photo.png")
    result, shown, _ = extend_image(str(tmp_path / "photo.png"), "telea", 16, 0, 16, 0)
    result, shown = np.asarray(result)[..., :3], np.asarray(shown)[..., :3]
    assert shown.shape == result.shape == (128, 160, 3)
    assert np.array_equal(shown[:, 16:144], photo)  # the photo is there to see, not a white panel
    border = np.concatenate([shown[:, :16], shown[:, 144:]], axis=1).astype(int)
    assert not np.array_equal(border, np.concatenate([result[:, :16], result[:, 144:]], axis=1))  # tinted
    assert (border < 250).any(axis=2).mean() > 0.9  # not a bare white border
