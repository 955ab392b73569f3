import re
import subprocess

import imageio_ffmpeg
import numpy as np
import pytest

from genstudio.limits import Limits
from genstudio.tasks import generate
from genstudio.tasks.walk import encode_video, frame_count, read_video_recipe, walk_frames


def _probe(path) -> str:
    out = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True
    )
    return out.stderr


@pytest.mark.parametrize("loop,expected", [(True, 4 * 5), (False, 3 * 5 + 1)])
def test_frame_count(tiny, loop, expected):
    frames = walk_frames(tiny("tiny-gan"), [1, 2, 3, 4], 5, loop=loop, display_size=64)
    assert len(frames) == expected == frame_count(4, 5, loop)


def test_first_keyframe_is_the_sample_image(tiny):
    model = tiny("tiny-gan")
    frames = walk_frames(model, [7, 9], 4, display_size=28, loop=False)
    image = generate.sample(model, 1, seed=7)[0]
    assert np.array_equal(frames[0][..., 0], image[..., 0])
    assert np.array_equal(frames[4][..., 0], generate.sample(model, 1, seed=9)[0][..., 0])  # keyframe i at i*F


def test_loop_closes_smoothly(tiny):
    frames = walk_frames(tiny("tiny-vae"), [1, 2, 3], 12, loop=True, display_size=28).astype(float)
    steps = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3))
    wrap = np.abs(frames[0] - frames[-1]).mean()
    assert wrap <= steps.max() * 1.01  # the jump back to the start is no bigger than any other step


def test_class_walk_and_grid(tiny):
    model = tiny("tiny-cgan")
    frames = walk_frames(model, [3], 6, labels=["Sneaker", "Bag"], grid_size=(2, 2), display_size=128)
    assert frames.shape[0] == 12 and frames.shape[1] % 2 == 0 and frames.shape[2] % 2 == 0


def test_conditional_walk_without_labels_tours_every_class(tiny):
    """No labels: keyframe i is class i with seed i (the seeds repeat), looping back."""
    from genstudio.tasks import generate

    model = tiny("tiny-cgan")
    frames = walk_frames(model, [1, 2], 3, display_size=28, resize="nearest")
    assert frames.shape[0] == 10 * 3  # ten classes, three frames each, looped
    for i in (0, 3, 7):
        key = generate.sample(model, 1, seed=[1, 2][i % 2], label=i)[0]
        assert np.array_equal(frames[i * 3][..., 0], key[..., 0])


def test_style_model_walk_without_styles_keeps_the_first_seeds_style(tiny):
    from genstudio.tasks import generate
    from genstudio.tasks.images import composite

    model = tiny("tiny-emoji")
    frames = walk_frames(model, [4, 9], 2, labels=["Flags"], display_size=16, background=255)
    style = generate.seeded_choice(4, 3, generate.STYLE_STREAM)
    for i, seed in enumerate([4, 9]):
        key = composite(generate.sample(model, 1, seed=seed, label="Flags", style=style)[0], 255)
        assert np.array_equal(frames[2 * i][::2, ::2], key)


def test_style_morph_walk_holds_the_emoji_and_changes_style(tiny):
    from genstudio.tasks import generate
    from genstudio.tasks.images import composite

    model = tiny("tiny-emoji")
    frames = walk_frames(
        model, [4], 2, labels=["Food & Drink"], styles=["noto", "twemoji", "fluent"], display_size=16, background=0
    )
    assert frames.shape == (6, 16, 16, 3)
    for i, style in enumerate(["noto", "twemoji", "fluent"]):
        key = composite(generate.sample(model, 1, seed=4, label=3, style=style)[0], 0)
        assert np.array_equal(frames[2 * i][::2, ::2], key)  # nearest x2 of the keyframe on black


def test_mp4_is_h264_yuv420p_with_recipe(tiny, tmp_path):
    frames = walk_frames(tiny("tiny-gan"), [1, 2], 10, loop=True, display_size=64)
    recipe = {"model": "tiny-gan", "seeds": "1,2"}
    written = encode_video(frames, tmp_path / "w.mp4", fps=12, recipe=recipe, gif=True)
    info = _probe(written[0])
    assert re.search(r"Video: h264.*yuv420p", info), info
    assert re.search(r"\b12 fps\b", info), info
    n, _ = imageio_ffmpeg.count_frames_and_secs(str(written[0]))
    assert n == 20
    assert read_video_recipe(written[0]) == recipe
    (tmp_path / "w.json").unlink()  # without the sidecar, the mp4's own comment tag holds it
    assert read_video_recipe(written[0]) == recipe
    assert (tmp_path / "w.gif").stat().st_size > 0


def test_limits(tiny):
    model = tiny("tiny-gan")
    small = Limits(max_frames=50, max_grid=2, max_display=128, max_fps=30)
    with pytest.raises(ValueError, match="limit is 50"):
        walk_frames(model, [1, 2, 3], 30, display_size=64, limits=small)
    with pytest.raises(ValueError, match="grid"):
        walk_frames(model, [1, 2], 2, grid_size=(3, 1), display_size=64, limits=small)
    with pytest.raises(ValueError, match="display size"):
        walk_frames(model, [1, 2], 2, display_size=512, limits=small)
    with pytest.raises(ValueError, match="frames per transition"):
        walk_frames(model, [1, 2], 0)
    with pytest.raises(ValueError, match="fps"):
        encode_video(np.zeros((2, 16, 16, 3), np.uint8), "x.mp4", fps=61, limits=small)


def test_old_walk_files_are_pruned(tmp_path, monkeypatch):
    import os
    import time

    from genstudio.ui.tabs import walk

    monkeypatch.setattr("tempfile.gettempdir", lambda: str(tmp_path))
    folder = walk.walk_dir()
    old, new = folder / "old.mp4", folder / "new.mp4"
    old.write_bytes(b"x")
    new.write_bytes(b"x")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    walk.walk_dir()
    assert not old.exists() and new.exists()


def test_walk_from_a_sample_grid_passes_through_exactly_its_images(tiny):
    """Sample (categories and styles drawn per seed) -> Walk from these seeds -> the walk's
    keyframes are the grid's images: same latent, class and style."""
    from genstudio.tasks.images import composite
    from genstudio.ui.app import walk_from_seeds
    from genstudio.ui.common import DRAWN
    from genstudio.ui.tabs.sample import sample

    _, _, seeds_text = sample("tiny-emoji", 11, 6, DRAWN, DRAWN, None, None, "white", 1, False)
    model, seeds, labels, styles, truncation, temperature, _ = walk_from_seeds(
        "tiny-emoji", seeds_text, DRAWN, DRAWN, 0, 1
    )
    assert len(labels.split(", ")) == len(styles.split(", ")) == 6  # one per keyframe: not a tour of every class
    frames = walk_frames(
        tiny(model),
        generate.parse_seeds(seeds),
        3,
        labels=labels.split(", "),
        styles=styles.split(", "),
        truncation=truncation,
        display_size=16,
        resize="nearest",
        background=255,
    )
    grid = composite(generate.sample(tiny("tiny-emoji"), 6, seed=11, truncation=0), 255)
    assert np.array_equal(frames[::3, ::2, ::2], grid)


def test_walk_from_a_grid_with_a_fixed_class_keeps_it(tiny):
    from genstudio.ui.app import walk_from_seeds

    _, _, labels, styles, *_ = walk_from_seeds("tiny-emoji", "3-5", "Flags", "twemoji", 0, 1)
    assert (labels, styles) == ("Flags", "twemoji")


def test_class_tour_with_more_seeds_than_classes_repeats_the_classes(tiny):
    frames = walk_frames(tiny("tiny-cgan"), list(range(12)), 1, display_size=28)
    assert len(frames) == 12  # 12 keyframes; the 10 classes start again


def test_display_size_is_the_side_of_each_walk_in_a_grid(tiny):
    frames = walk_frames(tiny("tiny-gan"), [1, 2], 2, grid_size=(2, 2), display_size=64)
    assert frames.shape[1:3] == (2 * 64 + 3 * 2, 2 * 64 + 3 * 2)  # 2-px gaps around and between
    assert (frames[:, :, 66:68] == 255).all()  # white dividers on a white background


def test_a_grid_wider_than_the_video_limit_is_refused(tiny):
    with pytest.raises(Exception, match="GENSTUDIO_MAX_DISPLAY"):
        walk_frames(tiny("tiny-gan"), [1, 2], 2, grid_size=(4, 1), display_size=512)


def test_morph_between_named_and_uploaded_emoji_passes_through_each_keyframe(tiny):
    from genstudio.tasks.images import composite
    from genstudio.tasks.restyle import restyle
    from genstudio.tasks.walk import morph_frames

    model = tiny("tiny-restyle")
    picture = np.zeros((40, 40, 4), np.uint8)
    picture[8:32, 8:32] = (200, 40, 40, 255)
    frames = morph_frames(
        model, ["cat face", picture, "grinning face"], 4, styles=["fluent"], display_size=64, resize="nearest"
    )
    assert len(frames) == 12 and frames.shape[1:] == (64, 64, 3)
    assert np.array_equal(frames[0], composite(restyle(model, names=["cat face"], style="fluent")[0], 255))
    assert np.array_equal(frames[4], composite(restyle(model, images=[picture], style="fluent")[0], 255))
    styled = morph_frames(
        model, ["cat face"], 3, styles=["noto", "twemoji", "fluent"], display_size=64, resize="nearest"
    )
    assert np.array_equal(styled[3], composite(restyle(model, names=["cat face"], style="twemoji")[0], 255))


def test_cli_morph_between_named_emoji(tiny, tmp_path):
    from genstudio.cli import main

    out = tmp_path / "morph.mp4"
    assert (
        main(
            [
                "walk",
                "--model",
                "tiny-restyle",
                "--emoji",
                "grinning face,cat face,pizza",
                "--styles",
                "fluent",
                "--frames-per-transition",
                "4",
                "--fps",
                "12",
                "--loop",
                "--size",
                "64",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    assert read_video_recipe(out)["emoji"] == ["grinning face", "cat face", "pizza"]
    assert main(["walk", "--model", "tiny-restyle", "--emoji", "banana split", "--output", str(out)]) == 2
