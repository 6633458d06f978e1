"""The page in a real browser: Debian's headless Chromium driven by Playwright (no browser download).

A visitor's path: a photo without a face gives the clear message; then an example, a slider (the preview follows
it), Generate, and the video plays while it renders, then the MP4, the plot and the motion files appear with no
error.  The Live tab with Chromium's fake microphone (a WAV file) shows the portrait talking.  Screenshots are
saved in the tests' tmp dirs.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = os.environ.get("FLAP_CHROMIUM", "/usr/bin/chromium")
if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium (apt-get install -y chromium) for the browser test",
                allow_module_level=True)
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright (PyPI) is not installed")

from flap.webapp.local_server import LocalApp  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

#: The network is closed in CI: no QUIC, background fetches, component updates or sync.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--autoplay-policy=no-user-gesture-required"]
#: The microphone is a WAV file, and its permission is granted without asking.
FAKE_MICROPHONE = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
PLAYING = "(() => { const v = document.querySelector('#video video'); return !!v && v.currentTime > 0.3 && !v.paused; })()"
ERROR_TOAST = "[data-testid='toast-body'].error"
VIDEO_TIMEOUT_MS = 150_000

pytestmark = [pytest.mark.server, pytest.mark.browser]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser-app")
    env = {"FLAP_SHARED": "1", "FLAP_WARMUP": "0", "FLAP_OUTPUT_DIR": str(tmp / "outputs"), "GRADIO_TEMP_DIR": str(tmp / "gradio")}
    app = LocalApp(env=env, log_path=tmp / "app.log").start()
    yield app
    app.stop()


def _open_page(server, tmp_path, args):
    """A fresh Chromium profile on the app's page, its Generate button there; yields the page."""
    with playwright_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=CHROMIUM, args=args,
                                                       headless=True, viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(server.url, wait_until="domcontentloaded")
        page.wait_for_selector("#generate")
        yield page
        context.close()


@pytest.fixture()
def page(server, tmp_path):
    yield from _open_page(server, tmp_path, CHROMIUM_ARGS)


def close_toasts(page) -> None:
    for button in page.locator("[data-testid='toast-close']").all():
        try:
            button.click(timeout=2000)
        except Exception:
            pass
    page.wait_for_selector(ERROR_TOAST, state="detached", timeout=15_000)


def test_visitor_path(page, server, tmp_path):
    # 1. A photo with no face, with typed text: the clear message, as a toast, and no stack trace.
    grey = tmp_path / "grey.png"
    from PIL import Image

    Image.fromarray(np.full((320, 320, 3), 128, np.uint8)).save(grey)
    page.locator("#portrait input[type=file]").set_input_files(str(grey))
    page.get_by_text("No recording? Type text to speak").click()
    page.locator("#text textarea").fill("Hello.")
    page.locator("#generate").click()
    toast = page.locator(ERROR_TOAST)
    toast.wait_for(timeout=60_000)
    assert "No face was found in the portrait" in toast.inner_text()
    assert "Traceback" not in page.content()
    close_toasts(page)

    # 2. An example, a slider, Generate: the video appears, with no error.
    page.locator("#examples button.gallery-item", has_text="Photo only").click()
    page.wait_for_function("document.querySelector('#text textarea').value.includes('learned to talk')")
    page.locator("#portrait input[type=file]").set_input_files(str(REPO / "examples/portraits/astronaut.jpg"))
    page.wait_for_selector("#preview img[src]", timeout=60_000)
    before = page.locator("#preview img").get_attribute("src")
    page.locator("#yaw input[type=range]").fill("15")
    page.wait_for_function("document.querySelector('#yaw input[type=number]').value === '15'")
    page.wait_for_function(f"document.querySelector('#preview img').getAttribute('src') !== {before!r}", timeout=30_000)
    page.locator("#generate").click()
    # It plays while it renders: before the finished MP4 is offered.
    page.wait_for_function(PLAYING, timeout=VIDEO_TIMEOUT_MS, polling=50)
    assert page.locator("#video_file a").count() == 0, "the video played only once it was finished"
    page.wait_for_selector("#video_file a", timeout=VIDEO_TIMEOUT_MS)
    href = page.locator("#video_file a").first.get_attribute("href")
    assert re.search(r"flap\.mp4$", href), href
    page.wait_for_selector("#plot img, #plot canvas, #plot svg", timeout=30_000)
    page.wait_for_function("document.querySelector('#notes').innerText.includes('Motion:')")
    notes = page.locator("#notes").inner_text()
    assert "yaw" in notes and "espeak-ng" in notes
    page.wait_for_timeout(500)
    shot = tmp_path / "flap_page.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
    assert shot.stat().st_size > 50_000
    assert page.locator(ERROR_TOAST).count() == 0, page.locator(ERROR_TOAST).all_inner_texts()
    assert server.alive()


@pytest.fixture(scope="module")
def microphone_wav(tmp_path_factory, speech_wav) -> Path:
    """The fake microphone's sound: the test speech at 48 kHz (Chromium loops it)."""
    import subprocess

    path = tmp_path_factory.mktemp("mic") / "mic.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(speech_wav), "-ar", "48000", "-ac", "1", str(path)], check=True)
    return path


@pytest.fixture()
def live_page(server, tmp_path, microphone_wav):
    args = CHROMIUM_ARGS + FAKE_MICROPHONE + [f"--use-file-for-fake-audio-capture={microphone_wav}"]
    yield from _open_page(server, tmp_path, args)


def test_live_tab_talks_with_the_microphone(live_page, server, tmp_path):
    page = live_page
    page.get_by_role("tab", name="Live").click()
    page.locator("#live_portrait input[type=file]").set_input_files(str(REPO / "examples/portraits/astronaut.jpg"))
    page.wait_for_selector("#live_portrait img[src]")
    page.locator("#live_mic button", has_text="Record").first.click()
    page.wait_for_selector("#live_image img[src]", timeout=60_000)
    status = page.locator("#live_status textarea, #live_status input").first
    page.wait_for_function("(() => { const e = document.querySelector('#live_status textarea, #live_status input');"
                           " return !!e && /t=(\\d+\\.\\d+)/.test(e.value) && parseFloat(e.value.slice(2)) > 2.0; })()",
                           timeout=30_000)
    first = page.locator("#live_image img").get_attribute("src")
    page.wait_for_timeout(500)
    assert page.locator("#live_image img").get_attribute("src") != first, "the live portrait stopped changing"
    assert "server" in status.input_value()
    page.locator("#live_mic button", has_text="Stop").first.click()
    shot = tmp_path / "flap_live.png"
    page.screenshot(path=str(shot))
    print(f"screenshot: {shot}")
    assert page.locator(ERROR_TOAST).count() == 0, page.locator(ERROR_TOAST).all_inner_texts()
    assert server.alive()
