"""The app in a real browser: Debian's headless Chromium driven by Playwright.

Opens every tab, runs it with real inputs (painting a mask stroke on the inpaint
canvas) and checks a real output appears. Screenshots land in test-artifacts/.
"""

from __future__ import annotations

import io
import shutil
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from app_server import AppServer

pytestmark = pytest.mark.browser
REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def session():
    """The app's server and one browser page on it, with what the page logged (console
    messages, failed requests and error responses) for the report of a failed test."""
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: `bash tests/run` installs it")
    ARTIFACTS.mkdir(exist_ok=True)
    with AppServer() as server, playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.set_default_timeout(60_000)
        log: list[str] = []

        def note(text: str) -> None:
            log.append(f"{time.strftime('%H:%M:%S')} {text}")

        page.on("console", lambda m: note(f"console {m.type}: {m.text}"))
        page.on("pageerror", lambda e: note(f"page error: {e}"))
        page.on("requestfailed", lambda r: note(f"request failed: {r.method} {r.url} {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and note(f"HTTP {r.status}: {r.request.method} {r.url}"))
        page.goto(server.url)
        page.wait_for_selector("#restyle-go")  # the first tab
        yield SimpleNamespace(server=server, page=page, log=log)
        browser.close()


@pytest.fixture
def page(session):
    return session.page


@pytest.fixture(autouse=True)
def report_on_failure(request, session):
    """A failed test leaves a screenshot and the browser's and the server's logs in test-artifacts/."""
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        name = f"failed-{request.node.name}"
        _shot(session.page, name)
        (ARTIFACTS / f"{name}.log").write_text(
            "== browser ==\n" + "\n".join(session.log[-200:]) + "\n\n== server ==\n" + session.server.output()[-20000:]
        )


def _tab(page, name):
    tab = page.get_by_role("tab", name=name, exact=True).locator("visible=true").first
    tab.click()
    _is_open(tab)


def _is_open(tab):
    from playwright.sync_api import expect

    # as long as the page's other waits: on a busy 2-core machine the switch can take more than expect's 5 s
    expect(tab).to_have_attribute("aria-selected", "true", timeout=60_000)


def _shot(page, name):
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)


def _image_src(page, selector) -> str:
    img = page.locator(f"{selector} img").first
    img.wait_for(state="visible")
    return img.get_attribute("src")


def _pick(page, label: str, option: str):
    """Choose `option` in the visible dropdown labelled `label`."""
    box = page.get_by_label(label, exact=True).locator("visible=true").first
    box.click()
    page.get_by_role("option", name=option, exact=True).click()


def _src_changes(page, selector, before):
    page.wait_for_function(
        f"s => document.querySelector('{selector} img') && document.querySelector('{selector} img').src !== s",
        arg=before,
    )
    return page.locator(f"{selector} img").first.get_attribute("src")


def test_every_tab_opens_on_a_result(page):
    """A first visitor sees what each tab does before touching anything (no click here)."""
    _image_src(page, "#restyle-output")  # the first tab: named emoji in every style
    _tab(page, "Sample")
    _image_src(page, "#sample-output")
    assert page.get_by_label("Seeds of these images").input_value() == "0-15"
    for tab, selector in (
        ("Label-conditioned", "#conditional-output img"),
        ("Inpaint", "#inpaint-output img"),
        ("Upscale", "#upscale-output img"),
        ("Latent walk", "#walk-video video"),
    ):
        _tab(page, tab)
        page.locator(selector).first.wait_for(state="attached")
        if tab == "Label-conditioned":
            assert page.get_by_role("radio", name="all classes").is_checked()  # the mode that made the opening
    _tab(page, "Inpaint")
    _wait_for_editor(page)


def test_sample_tab_with_emoji_style_and_background(page):
    _tab(page, "Sample")
    page.click("#sample-go")
    first = _image_src(page, "#sample-output")
    page.get_by_role("spinbutton", name="Seed").first.fill("123")
    # the truncation slider starts at the model's own setting and follows the model the user picks
    from playwright.sync_api import expect

    from genstudio import registry

    own = registry.inspect("emoji-gan").card["sampling"]["truncation"]
    slider = page.get_by_role("spinbutton", name="Truncation").locator("visible=true").first
    assert float(slider.input_value()) == own
    other = registry.inspect("gan-fmnist").card["sampling"]["truncation"]
    assert other > 0 and not registry.inspect("cgan-mnist").card.get("sampling")
    _pick(page, "Model", "gan-fmnist")  # a GAN with a setting of its own
    expect(slider).to_have_value(f"{other:g}")
    _pick(page, "Model", "cgan-mnist")  # a GAN without one: off
    expect(slider).to_have_value("0")
    _pick(page, "Model", "emoji-gan")
    expect(slider).to_have_value(f"{own:g}")
    # the default model is the emoji GAN: category and style pickers are shown, the VAE's temperature is not
    _pick(page, "Category / class", "Food & Drink")
    _pick(page, "Style", "twemoji")
    assert not page.get_by_label("Temperature").first.is_visible()
    page.get_by_role("radio", name="checkerboard").first.check()
    page.click("#sample-go")
    _src_changes(page, "#sample-output", first)
    _shot(page, "tab-sample")


def test_nothing_covers_a_dropdowns_text_or_a_grids_first_row(page):
    """A dropdown's text stops before its arrow; a result's label badge and buttons sit above
    the picture (over it they hid the first row's name of an 'all classes' grid)."""
    _tab(page, "Label-conditioned")
    page.locator("#conditional-output img").first.wait_for()
    overlaps = page.evaluate(
        """() => {
      const out = [];
      for (const input of document.querySelectorAll("input[role=combobox]")) {
        const icon = input.parentElement.querySelector(".icon-wrap");
        if (!input.offsetParent || !icon) continue;
        const textEnd = input.getBoundingClientRect().right - parseFloat(getComputedStyle(input).paddingRight);
        if (textEnd > icon.getBoundingClientRect().left + 1) out.push(input.getAttribute("aria-label"));
      }
      const block = document.querySelector("#conditional-output");
      const img = block.querySelector("img"), picture = img.getBoundingClientRect();
      for (const badge of block.querySelectorAll("label, button")) {
        const r = badge.getBoundingClientRect();
        if (badge.contains(img)) continue;  // the picture's own button (click to enlarge)
        if (r.height && r.bottom > picture.top + 1 && r.top < picture.bottom) {
          out.push(badge.getAttribute("aria-label") || badge.textContent.trim());
        }
      }
      return out;
    }"""
    )
    assert overlaps == []


def test_conditional_tab_all_styles(page):
    _tab(page, "Label-conditioned")
    page.get_by_role("radio", name="all classes").check()
    page.click("#conditional-go")
    first = _image_src(page, "#conditional-output")
    _shot(page, "tab-conditional")
    page.get_by_role("radio", name="all styles").check()
    page.click("#conditional-go")
    _src_changes(page, "#conditional-output", first)
    _shot(page, "tab-conditional-styles")


def test_inpaint_tab_with_painted_stroke(page):
    _tab(page, "Inpaint")
    editor = page.locator("#inpaint-editor")
    canvas = editor.locator("canvas").first
    canvas.wait_for(state="visible")  # the editor mounts when its tab opens; a file given before is dropped
    editor.locator("input[type=file]").first.set_input_files(str(REPO / "assets" / "photos" / "chelsea.png"))
    editor.get_by_text("select the draw tool to start").wait_for(state="hidden")  # the image is on the canvas
    time.sleep(1)  # let the editor finish its zoom-to-fit
    _paint_stroke(page)
    page.click("#inpaint-go")
    _image_src(page, "#inpaint-output")
    _shot(page, "tab-inpaint")
    note = page.get_by_text("only the painted area changed")
    note.wait_for()


def _wait_for_editor(page):
    """Until the editor's canvas shows the photo it was last given (the app's own check before Inpaint)."""
    page.wait_for_function("() => window.genstudioEditorSettled()", polling=200)


def _paint_stroke(page):
    canvas = page.locator("#inpaint-editor canvas").first
    canvas.scroll_into_view_if_needed()  # a stroke off screen paints nothing (an earlier test may have scrolled)
    box = canvas.bounding_box()
    cx, cy = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5
    page.mouse.move(cx - 60, cy - 20)
    page.mouse.down()
    for i in range(1, 13):
        page.mouse.move(cx - 60 + i * 10, cy - 20 + i * 3)
    page.mouse.up()
    time.sleep(0.5)  # the editor commits the stroke to its layer asynchronously


def _src_or_none(page, selector) -> str | None:
    """What an image box shows now, or None when it is empty (a sent image clears the last result)."""
    shown = page.locator(f"{selector} img")
    return shown.first.get_attribute("src") if shown.count() else None


def _result_size(page, selector, before) -> tuple[int, int]:
    from PIL import Image

    return Image.open(io.BytesIO(_fetch(_src_changes(page, selector, before)))).size


def _fetch(url) -> bytes:
    """A file the page shows, over a new connection (a kept-alive one can be reset by the server
    closing it just then: ECONNRESET in CI)."""
    with urllib.request.urlopen(url) as response:
        return response.read()


def test_inpaint_processes_the_photo_the_editor_shows(page):
    """Pressing Inpaint right after choosing an example photo inpaints that photo, not the
    one the editor held before (it loads a new photo a moment after the click)."""
    _tab(page, "Inpaint")
    examples = page.locator("#inpaint-examples .gallery-item")
    examples.nth(3).click()  # rocket.png, 640 x 427
    _wait_for_editor(page)
    _paint_stroke(page)
    before = (
        page.locator("#inpaint-output img").first.get_attribute("src")
        if page.locator("#inpaint-output img").count()
        else None
    )
    page.click("#inpaint-go")
    assert _result_size(page, "#inpaint-output", before) == (640, 427)
    before = _src_or_none(page, "#inpaint-output")
    examples.nth(1).click()  # chelsea.png, 451 x 300
    page.click("#inpaint-go")  # at once, while the editor is still loading the cat
    assert _result_size(page, "#inpaint-output", before) == (451, 300)


def test_inpaint_mask_tools_and_extend(page, tmp_path):
    """A mask file replaces the strokes, inverted and grown, shown over the result; Extend
    widens the photo and keeps it exact."""
    from PIL import Image

    _tab(page, "Inpaint")
    page.locator("#inpaint-examples .gallery-item").nth(1).click()  # chelsea.png, 451 x 300
    _wait_for_editor(page)
    keep = np.zeros((300, 451), np.uint8)
    keep[:, :300] = 255  # inverted: the right 151 columns are filled
    Image.fromarray(keep).save(tmp_path / "mask.png")
    page.get_by_text("Mask tools").click()
    page.locator("#inpaint-mask-file input[type=file]").first.set_input_files(str(tmp_path / "mask.png"))
    page.locator("#inpaint-mask-file img").first.wait_for()
    page.locator("#inpaint-invert input").check()
    page.locator("#inpaint-overlay input").check()
    page.get_by_role("spinbutton", name="number input for Grow mask (px)").fill("4")
    before = _src_or_none(page, "#inpaint-output")
    page.click("#inpaint-go")
    _src_changes(page, "#inpaint-output", before)
    result, shown = _decoded(page, "#inpaint-output")[..., :3], _decoded(page, "#inpaint-mask-used")[..., :3]
    photo = np.asarray(Image.open(REPO / "assets" / "photos" / "chelsea.png").convert("RGB"))
    assert result.shape == photo.shape and np.array_equal(result[:, :296], photo[:, :296])  # kept, less the 4 px grown
    assert not np.array_equal(result[:, 300:], photo[:, 300:])
    assert (
        np.array_equal(shown[:, :296], photo[:, :296]) and (shown[:, 300:, 1] < shown[:, 300:, 0]).mean() > 0.9
    )  # magenta tint

    page.get_by_text("Extend (outpaint)").click()
    page.get_by_role("spinbutton", name="Left (px)").fill("24")
    page.get_by_role("spinbutton", name="Right (px)").fill("40")
    before = _src_or_none(page, "#inpaint-output")
    page.click("#extend-go")
    _src_changes(page, "#inpaint-output", before)
    wider = _decoded(page, "#inpaint-output")[..., :3]
    assert wider.shape == (300, 451 + 64, 3) and np.array_equal(wider[:, 24:475], photo)
    _shot(page, "tab-inpaint-extend")


def test_inpaint_says_when_a_file_is_not_an_image_and_keeps_the_photo(page, tmp_path):
    """A non-image given to the editor is refused with a word; the photo and strokes stay."""
    _tab(page, "Inpaint")
    page.locator("#inpaint-examples .gallery-item").nth(1).click()  # chelsea.png, 451 x 300
    _wait_for_editor(page)
    _paint_stroke(page)
    text = tmp_path / "notes.txt"
    text.write_text("not a picture")
    page.locator("#inpaint-editor input[type=file]").first.set_input_files(str(text))
    page.get_by_text("this file is not an image we can read").first.wait_for()
    time.sleep(1)  # what the editor would do with the file, it would have done by now
    shown = page.evaluate(
        """async () => {
      const canvas = JSON.parse(await window.genstudioCanvas());
      const size = async (url) => {
        if (!url) return null;
        const bitmap = await createImageBitmap(await (await fetch(url)).blob());
        const context = new OffscreenCanvas(bitmap.width, bitmap.height).getContext("2d");
        context.drawImage(bitmap, 0, 0);
        const alpha = context.getImageData(0, 0, bitmap.width, bitmap.height).data.filter((v, i) => i % 4 == 3);
        return [bitmap.width, bitmap.height, alpha.some((a) => a > 0)];
      };
      return [await size(canvas.background), await Promise.all((canvas.layers || []).map(size))];
    }"""
    )
    background, layers = shown
    assert background[:2] == [451, 300] and any(painted for _, _, painted in layers), shown


def test_upscale_tab(page):
    """A photo of one's own is upscaled x4, though the tab opened in Evaluate mode (scored, same size)."""
    _tab(page, "Upscale")
    page.locator("#upscale-output img").first.wait_for(state="attached")  # the opening's result
    before = _src_or_none(page, "#upscale-output")
    page.locator("#upscale-input input[type=file]").first.set_input_files(
        str(REPO / "assets" / "photos" / "chelsea.png")  # 451 x 300
    )
    page.click("#upscale-go")
    assert _result_size(page, "#upscale-output", before) == (1804, 1200)
    _shot(page, "tab-upscale")


def test_an_error_leaves_no_stale_result_link_or_report(page, tmp_path):
    """After an error the last result's link and report go with it (41.12: the link box kept the
    previous link; Upscale kept the old PSNR table under the error badge)."""
    from playwright.sync_api import expect

    _tab(page, "Sample")
    page.get_by_role("spinbutton", name="Seed").locator("visible=true").first.fill("5")
    before = _src_or_none(page, "#sample-output")
    page.click("#sample-go")
    _src_changes(page, "#sample-output", before)
    link = page.locator("#sample-link textarea, #sample-link input").first
    expect(link).not_to_have_value("")
    page.get_by_role("spinbutton", name="Seed").locator("visible=true").first.fill("")
    page.click("#sample-go")
    page.get_by_text("the seed box is empty").first.wait_for()
    expect(link).to_have_value("")
    _tab(page, "Upscale")
    evaluate = page.get_by_label("Evaluate", exact=False).first
    evaluate.check()
    before = _src_or_none(page, "#upscale-output")
    photo = str(REPO / "assets" / "photos" / "coffee.png")
    page.locator("#upscale-input input[type=file]").first.set_input_files(photo)
    expect(evaluate).not_to_be_checked()  # a photo of one's own is upscaled; here a scored result is wanted
    evaluate.check()
    page.click("#upscale-go")
    _src_changes(page, "#upscale-output", before)
    report = page.locator("#upscale-report")
    expect(report).to_contain_text("PSNR")
    (tmp_path / "notes.png").write_text("not a picture")
    page.locator("#upscale-input input[type=file]").first.set_input_files(str(tmp_path / "notes.png"))
    page.click("#upscale-go")
    page.get_by_text("not an image we can read").locator("visible=true").first.wait_for()
    expect(report).not_to_contain_text("PSNR")


def test_walk_tab(page):
    _tab(page, "Latent walk")
    page.get_by_role("spinbutton", name="number input for Frames per transition").fill("8")
    page.get_by_label("Seeds (keyframes)").fill("3")
    page.get_by_label("Classes (conditional models)").fill("Food & Drink")
    page.get_by_label("Styles (style models)").fill("noto, twemoji, fluent")  # a style morph of one emoji
    opening = page.evaluate("() => { const v = document.querySelector('#walk-video video'); return v ? v.src : null }")
    page.click("#walk-go")
    # the tab opened on a walk of its own: wait for the new video, not that one
    page.wait_for_function(
        "s => { const v = document.querySelector('#walk-video video');"
        " return v && v.src && v.src !== s && v.readyState >= 1 && v.duration > 0 }",
        arg=opening,
    )
    _shot(page, "tab-walk")


def test_flow_between_tabs(page, tmp_path):
    from playwright.sync_api import expect

    _tab(page, "Upscale")  # shown once, so its input is there to be replaced by what is sent
    page.locator("#upscale-go").wait_for()
    _tab(page, "Sample")
    before = _src_or_none(page, "#sample-output")  # the opening, the last test's grid, or none (after an error)
    page.get_by_role("spinbutton", name="Seed").first.fill("7")
    _pick(page, "Category / class", "Food & Drink")
    _pick(page, "Style", "twemoji")
    page.click("#sample-go")
    _src_changes(page, "#sample-output", before)
    model, seed = (
        page.get_by_label("Model").locator("visible=true").first.input_value(),
        int(page.get_by_role("spinbutton", name="Seed").first.input_value()),
    )
    label, style = (
        page.get_by_label("Category / class").locator("visible=true").first.input_value(),
        page.get_by_label("Style").locator("visible=true").first.input_value(),
    )
    count = int(page.get_by_role("spinbutton", name="number input for Number of images").first.input_value())
    truncation = float(page.get_by_role("spinbutton", name="Truncation").locator("visible=true").first.input_value())
    held = page.locator("#upscale-input img")
    before = held.first.get_attribute("src") if held.count() else None
    page.get_by_role("button", name="Send to upscale").click()
    _src_changes(page, "#upscale-input", before)  # the grid arrived, no download needed
    # a sent image is to be upscaled (41.9: Evaluate stayed ticked from the opening), and the opening's result and
    # its PSNR table, made from another photo, are gone (41.12)
    expect(page.get_by_label("Evaluate", exact=False).first).not_to_be_checked()
    expect(page.locator("#upscale-output img")).to_have_count(0)
    _is_open(
        page.get_by_role("tab", name="Upscale", exact=True).locator("visible=true").first
    )  # and the app moved there (then we go back)
    # ... losslessly: the image the Upscale tab holds is the Sample tab's grid (on white), not a lossy WebP copy
    import io as bytes_io

    from PIL import Image

    from genstudio.ui import common
    from genstudio.ui.tabs import sample

    sent = _fetch(held.first.get_attribute("src"))
    received = np.asarray(Image.open(bytes_io.BytesIO(sent)).convert("RGB")).astype(int)
    expected = common.as_rgb_png(
        sample.sample(model, seed, count, label, style, truncation, None, "white", 1, False)[1]
    ).astype(int)
    assert received.shape == expected.shape and np.abs(received - expected).max() <= 1  # WebP: mean 1.6-2.7, max 19-26
    _tab(page, "Sample")
    page.get_by_role("button", name="Send to inpaint").click()
    page.locator("#inpaint-editor canvas").first.wait_for(state="visible")
    expect(page.locator("#inpaint-output img")).to_have_count(0)  # the last fill was of another photo (41.12)
    _wait_for_editor(page)  # the grid is on the canvas: extend it to see
    if not page.locator("#extend-go").is_visible():
        page.get_by_text("Extend (outpaint)").click()
    page.get_by_role("spinbutton", name="Left (px)").fill("24")
    page.get_by_role("spinbutton", name="Right (px)").fill("40")
    before = _src_or_none(page, "#inpaint-output")
    page.click("#extend-go")
    assert _result_size(page, "#inpaint-output", before) == (expected.shape[1] + 64, expected.shape[0])
    _tab(page, "Sample")
    seeds = page.get_by_label("Seeds of these images").input_value()
    page.get_by_role("button", name="Walk from these seeds").click()
    page.wait_for_function(
        "s => [...document.querySelectorAll('textarea')].some(t => t.value === s && t.closest('#walk-seeds'))",
        arg=seeds,
    )
    # the class fixed in the Sample tab travels with the seeds (a conditional walk needs it)
    assert page.get_by_label("Classes (conditional models)").input_value() == "Food & Drink"
    assert page.get_by_label("Styles (style models)").input_value() == "twemoji"


def test_recipe_tab_restores_settings(page, tmp_path):
    from genstudio.tasks.io import save_png

    save_png(
        np.zeros((28, 28), np.uint8),
        tmp_path / "made.png",
        {"task": "sample", "model": "vae-fmnist", "seed": 4242, "n": 9, "temperature": 0.6},
    )
    _tab(page, "Recipe")
    page.locator("#recipe-file input[type=file]").first.set_input_files(str(tmp_path / "made.png"))
    # the app switches to the recipe's tab with its settings filled in (the recipe's own text
    # may already be hidden by then, so only the restored inputs are waited for)
    page.wait_for_function("() => [...document.querySelectorAll('input[type=number]')].some(i => i.value === '4242')")
    page.get_by_role("tab", name="Sample", exact=True, selected=True).wait_for()
    _shot(page, "tab-recipe")
    # a Label-conditioned recipe goes back to its own tab, with its mode
    save_png(
        np.zeros((28, 28), np.uint8),
        tmp_path / "classes.png",
        {"task": "conditional", "model": "cgan-fmnist", "seed": 3131, "n": 4, "mode": "all classes"},
    )
    _tab(page, "Recipe")
    page.locator("#recipe-file button[aria-label='Clear']").first.click()  # drop the previous file
    page.locator("#recipe-file input[type=file]").first.set_input_files(str(tmp_path / "classes.png"))
    page.get_by_role("tab", name="Label-conditioned", exact=True, selected=True).wait_for()
    page.wait_for_function("() => [...document.querySelectorAll('input[type=number]')].some(i => i.value === '3131')")
    assert page.get_by_role("radio", name="all classes").is_checked()


def test_models_tab(page):
    _tab(page, "Models")
    page.locator("#model-card h3").first.wait_for()
    _shot(page, "tab-models")
    # the table shows every model and its whole headline: nothing hidden below an inner scroll or cut off
    table = page.locator("#models-table")
    for name in ("cgan-fmnist", "emoji-gan", "vae-fmnist"):
        assert table.get_by_text(name, exact=True).first.is_visible()
    assert table.get_by_text("the real-data floor", exact=False).count() >= 3
    clipped = table.evaluate("""t => [t, ...t.querySelectorAll('*')].filter(e => {
        const style = getComputedStyle(e);
        return /(auto|scroll|hidden)/.test(style.overflowY) && e.clientHeight > 0
               && e.scrollHeight > e.clientHeight + 2; }).length""")
    assert clipped == 0
    # each model's curves are its own (a pick once showed the previous model's), losses apart from validation figures
    from genstudio import registry
    from genstudio.tasks.io import read_recipe
    from genstudio.ui.tabs.models import model_curves

    for name in ("sr-x4", "cgan-fmnist", "inpaint-photo", "emoji-gan"):
        _pick(page, "Model card", name)
        page.wait_for_function("n => document.querySelector('#model-card h3').textContent.includes(n)", arg=name)
        expected = [update["value"] for update in model_curves(name)]
        for selector, chart in zip(("#model-losses", "#model-quality"), expected):
            if chart is None:
                page.locator(selector).wait_for(state="hidden")
                continue
            shown = _wait_for_recipe(page, selector, lambda r: r.get("model") == name)
            assert shown["series"] == read_recipe(chart)["series"], (name, selector)
        assert (
            "assembled" in page.locator("#model-card").text_content()
            or registry.inspect(name).card["provenance"]["steps"]
        )
    # field names are not broken mid-word ("archit ecture"), and the sheet's headers sit below the image box's buttons
    wrapped = page.evaluate(
        """() => [...document.querySelectorAll('#model-card td:first-child')]
        .filter(td => td.getClientRects().length > 1 || td.scrollWidth > td.clientWidth + 1
                      || getComputedStyle(td).whiteSpace !== 'nowrap').map(td => td.textContent)"""
    )
    assert wrapped == []
    from genstudio.ui.tabs.models import TOOLBAR_PX, model_picture

    assert (model_picture("emoji-restyle")[:TOOLBAR_PX] == 255).all()


def _wait_for_recipe(page, selector: str, ready, seconds: float = 60) -> dict:
    """The recipe of the PNG an image box shows, once `ready(recipe)` holds (polled: the box may
    still show the last one)."""
    from PIL import Image

    from genstudio.tasks.io import read_recipe

    deadline, recipe = time.time() + seconds, None
    while time.time() < deadline:
        img = page.locator(f"{selector} img")
        if img.count() and img.first.get_attribute("src"):
            recipe = read_recipe(Image.open(io.BytesIO(_fetch(img.first.get_attribute("src")))))
            if recipe and ready(recipe):
                return recipe
        time.sleep(0.3)
    raise AssertionError(f"{selector} never showed the expected result; last recipe: {recipe}")


def test_an_example_produces_its_result_and_shows_its_settings(page):
    """A "Try" example sets every control it uses (issue 41.11: it left Flags and black showing
    while it drew categories drawn from the seed on white), and its result is what they say."""
    from genstudio.tasks.io import read_recipe

    _tab(page, "Sample")
    _pick(page, "Model", "emoji-gan")  # an earlier test may have left another model
    _pick(page, "Category / class", "Flags")
    page.get_by_role("radio", name="black").first.check()
    before = _src_or_none(page, "#sample-output")
    page.locator("#sample-examples .gallery-item, #sample-examples tr.tr-body td").first.click()
    recipe = read_recipe(io.BytesIO(_fetch(_src_changes(page, "#sample-output", before))))
    shown = page.evaluate(
        "() => [...document.querySelectorAll('input[role=combobox]')]"
        ".map(i => i.getAttribute('aria-label') + '=' + i.value)"
    )
    assert recipe.get("label") is None and "Category / class=(drawn from the seed)" in shown, shown
    assert recipe["background"] == "white" and page.get_by_role("radio", name="white").first.is_checked()


def _decoded(page, selector) -> np.ndarray:
    from PIL import Image

    src = page.locator(f"{selector} img").first.get_attribute("src")
    return np.asarray(Image.open(io.BytesIO(_fetch(src))).convert("RGBA"))


def test_a_copied_link_remakes_the_result_in_a_fresh_page(page):
    _tab(page, "Sample")
    shown = page.locator("#sample-output img")
    before = shown.first.get_attribute("src") if shown.count() else None
    page.get_by_role("spinbutton", name="Seed").first.fill("4242")
    page.get_by_role("spinbutton", name="number input for Display scale").first.fill("6")  # not the default 4
    page.click("#sample-go")
    _src_changes(page, "#sample-output", before)
    page.wait_for_function(
        "() => { const e = document.querySelector('#sample-link textarea, #sample-link input');"
        " return e && e.value.includes('seed=4242') && e.value.includes('display_scale=6') }"
    )
    link = page.locator("#sample-link textarea, #sample-link input").first.input_value()
    made = _decoded(page, "#sample-output")
    context = page.context.browser.new_context(viewport={"width": 1400, "height": 1100})
    fresh = context.new_page()
    fresh.set_default_timeout(60_000)
    try:
        fresh.goto(link)
        fresh.wait_for_function(
            "() => [...document.querySelectorAll('input[type=number]')].some(i => i.value === '4242')"
        )
        fresh.wait_for_function("() => document.querySelector('#sample-output img')")
        assert fresh.get_by_label("Seeds of these images").input_value().startswith("4242-")
        assert np.array_equal(_decoded(fresh, "#sample-output"), made)
        # a link with nonsense values opens the tab with a note, not an error page
        fresh.goto(link.split("?")[0] + "?task=sample&model=emoji-gan&seed=-5&n=abc&bogus=1")
        fresh.get_by_text("ignored seed=-5").wait_for()
        fresh.click("#sample-go")
        fresh.wait_for_function("() => document.querySelector('#sample-output img')")
    finally:
        context.close()


def test_history_keeps_each_result_and_restores_one(page):
    """Two results made, the first restored from the History (same settings, same pixels),
    also after a reload (remade from its recipe); the zip holds both with their recipes."""
    import zipfile

    context = page.context.browser.new_context(viewport={"width": 1400, "height": 1100}, accept_downloads=True)
    fresh = context.new_page()
    fresh.set_default_timeout(60_000)
    try:
        fresh.goto(page.url.split("?")[0])
        _image_src(fresh, "#restyle-output")  # the first tab's opening, which the History leaves out too
        _tab(fresh, "Sample")
        before = _image_src(fresh, "#sample-output")  # the opening, which the History leaves out
        made = {}
        for seed in ("111", "222"):
            fresh.get_by_role("spinbutton", name="Seed").first.fill(seed)
            fresh.get_by_role("spinbutton", name="number input for Number of images").first.fill("4")
            fresh.click("#sample-go")
            before = _src_changes(fresh, "#sample-output", before)
            made[seed] = _decoded(fresh, "#sample-output")
        _tab(fresh, "Label-conditioned")  # its opening, shown now for the first time, is no one's result
        _image_src(fresh, "#conditional-output")
        _tab(fresh, "History")
        fresh.wait_for_function("() => document.querySelectorAll('#history-gallery img').length === 2")
        fresh.wait_for_timeout(1000)
        assert fresh.locator("#history-gallery img").count() == 2
        captions = fresh.locator("#history-gallery").inner_text()
        assert captions.index("seed 222") < captions.index("seed 111"), captions  # newest first
        for attempt in ("held by the session", "remade after a reload"):
            fresh.locator("#history-gallery img").nth(1).click()  # the first result made
            fresh.wait_for_function(
                "() => [...document.querySelectorAll('input[type=number]')].some(i => i.value === '111')"
            )
            fresh.wait_for_function("() => document.querySelector('#sample-output img')")
            assert np.array_equal(_decoded(fresh, "#sample-output"), made["111"]), attempt
            if attempt == "held by the session":
                fresh.reload()
                fresh.wait_for_selector("#restyle-go")
                _tab(fresh, "History")
                fresh.wait_for_function("() => document.querySelectorAll('#history-gallery img').length === 2")
        _tab(fresh, "History")
        with fresh.expect_download() as download:
            fresh.click("#history-download")
            fresh.locator("#history-zip a").first.click()
        # the session after the reload holds the result it remade; the other keeps its recipe and thumbnail
        names = sorted(zipfile.ZipFile(download.value.path()).namelist())
        assert names == ["01-sample-thumbnail.webp", "01-sample.json", "02-sample.json", "02-sample.png"], names
    finally:
        context.close()


def test_restyle_an_uploaded_picture_and_a_named_emoji_then_morph(page, tmp_path):
    from PIL import Image

    _tab(page, "Restyle")
    _wait_for_recipe(page, "#restyle-output", lambda r: r.get("emoji"))  # it opens on named emoji in every style
    sun = np.zeros((48, 48, 4), np.uint8)
    yy, xx = np.mgrid[:48, :48]
    sun[(yy - 24) ** 2 + (xx - 24) ** 2 < 18**2] = (250, 200, 30, 255)
    Image.fromarray(sun).save(tmp_path / "sun.png")
    page.locator("#restyle-input input[type=file]").first.set_input_files(str(tmp_path / "sun.png"))
    page.click("#restyle-go")
    made = _wait_for_recipe(page, "#restyle-output", lambda r: r.get("input") == "uploaded picture")
    assert made["style"] == "all three" and "emoji" not in made
    _shot(page, "tab-restyle-upload")
    box = page.get_by_label("…or emoji by name", exact=True).locator("visible=true").first
    box.click()
    box.fill("red apple")
    box.press("Enter")  # a name typed in full (the list also filters as one types)
    page.click("#restyle-go")
    _wait_for_recipe(page, "#restyle-output", lambda r: r.get("emoji") == "red apple")
    page.wait_for_function(
        "() => { const e = document.querySelector('#restyle-link textarea, #restyle-link input');"
        " return e && e.value.includes('emoji=red+apple') }"
    )
    _tab(page, "Latent walk")
    opening = page.evaluate("() => { const v = document.querySelector('#walk-video video'); return v ? v.src : null }")
    _pick(page, "Model", "emoji-restyle")
    page.locator("#walk-emoji").wait_for(state="visible")  # a restyle model takes emoji keyframes, not seeds
    assert not page.get_by_label("Seeds (keyframes)").is_visible()
    page.get_by_role("spinbutton", name="number input for Frames per transition").fill("6")
    page.get_by_label("Styles (style models)").fill("fluent")
    page.click("#walk-go")
    page.wait_for_function(
        "s => { const v = document.querySelector('#walk-video video');"
        " return v && v.src && v.src !== s && v.readyState >= 1 && v.duration > 0 }",
        arg=opening,
    )
    _shot(page, "tab-walk-morph")
