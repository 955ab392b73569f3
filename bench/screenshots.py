"""Retake the README's screenshots in headless Chromium (Debian's), from a running app.

    .venv/bin/python bench/screenshots.py

Needs `apt-get install -y chromium fonts-noto-color-emoji` (without a colour emoji font the
Random button's die is drawn as an empty box, which visitors' browsers never show).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def link_of(page, elem_id: str) -> str:
    return page.evaluate(
        "id => { const e = document.querySelector(`#${id} textarea, #${id} input`); return e ? e.value : '' }", elem_id
    )


def wait_for_link(page, elem_id: str, before: str = "") -> None:
    """Until the result's link box holds the new result's link (it is filled after the images;
    a tab opens with a result of its own, so the box may hold that one's link until then)."""
    page.wait_for_function(
        "([id, before]) => { const e = document.querySelector(`#${id} textarea, #${id} input`);"
        " return e && e.value.startsWith('http') && e.value !== before }",
        arg=[elem_id, before],
    )


def main() -> None:
    from app_server import AppServer
    from playwright.sync_api import sync_playwright

    with AppServer() as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.set_default_timeout(120_000)
        page.goto(server.url)
        page.wait_for_selector("#restyle-go")
        page.locator("#restyle-output img").first.wait_for(state="visible")  # the first tab opens on named emoji
        page.wait_for_timeout(1500)
        page.screenshot(path=str(REPO / "assets" / "screenshot-restyle.png"))
        tab = lambda name: page.get_by_role("tab", name=name, exact=True).locator("visible=true").first.click()
        tab("Sample")
        page.wait_for_selector("#sample-go")
        page.get_by_role("slider", name="Number of images").first.fill("24")
        opening_link = link_of(page, "sample-link")
        page.click("#sample-go")
        page.locator("#sample-output img").first.wait_for(state="visible")
        page.wait_for_timeout(1500)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(REPO / "assets" / "screenshot.png"))
        wait_for_link(page, "sample-link", opening_link)
        page.locator("#sample-link").screenshot(path=str(REPO / "assets" / "screenshot-link.png"))
        tab("Label-conditioned")
        page.get_by_role("radio", name="all styles").check()
        page.get_by_role(
            "spinbutton", name="number input for Images (per row in 'all classes' / 'all styles', up to 32)"
        ).fill("6")
        opening_link = link_of(page, "conditional-link")
        page.click("#conditional-go")
        page.locator("#conditional-output img").first.wait_for(state="visible")
        wait_for_link(page, "conditional-link", opening_link)
        page.wait_for_timeout(1500)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(REPO / "assets" / "screenshot-conditional.png"))
        tab("Sample")
        for seed in ("7", "8"):
            before = page.locator("#sample-output img").first.get_attribute("src")
            page.get_by_role("spinbutton", name="Seed").first.fill(seed)
            page.click("#sample-go")
            page.wait_for_function("s => (document.querySelector('#sample-output img') || {}).src !== s", arg=before)
        tab("History")
        page.wait_for_function("() => document.querySelectorAll('#history-gallery img').length >= 3")
        page.wait_for_timeout(1000)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(REPO / "assets" / "screenshot-history.png"))
        inpaint_screenshot(page, tab)
        browser.close()
    print(
        "wrote assets/screenshot-restyle.png, screenshot.png, screenshot-link.png, screenshot-conditional.png, "
        "screenshot-history.png, "
        "screenshot-inpaint.png"
    )


def inpaint_screenshot(page, tab) -> None:
    """A brush stroke over the cat's eye and nose, filled by the default model."""
    tab("Inpaint")
    editor = page.locator("#inpaint-editor")
    editor.locator("canvas").first.wait_for(state="visible")
    editor.locator("input[type=file]").first.set_input_files(str(REPO / "assets" / "photos" / "chelsea.png"))
    editor.get_by_text("select the draw tool to start").wait_for(state="hidden")
    page.wait_for_timeout(1000)  # the editor's zoom-to-fit
    box = editor.locator("canvas").first.bounding_box()
    x, y = box["x"] + box["width"] * 0.40, box["y"] + box["height"] * 0.42
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, 16):
        page.mouse.move(x + i * 8, y + i * 3)
    page.mouse.up()
    page.wait_for_timeout(500)  # the editor commits the stroke asynchronously
    before = page.locator("#inpaint-output img").first.get_attribute("src")
    page.click("#inpaint-go")
    page.wait_for_function("s => (document.querySelector('#inpaint-output img') || {}).src !== s", arg=before)
    page.wait_for_timeout(1500)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(REPO / "assets" / "screenshot-inpaint.png"))


if __name__ == "__main__":
    main()
