"""The watcher's status page: served by a running watcher, checked over HTTP (directory
traversal, missing token, cross-site form posts refused) and in a real headless Chromium."""

from __future__ import annotations

import shutil
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest
from watch_util import simulate

from alsmicroct.jobs.watch.service import WatchService, WatchSettings


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def watcher(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("page")
    raw, rec = tmp / "raw", tmp / "rec"
    simulate(raw, "a.h5", "als", nrays=128, cor=66.1)
    (tmp / "secret.txt").write_text("outside REC_DIR")
    settings = WatchSettings(raw, rec, port=_port(), host="127.0.0.1", token="s3cret", settle=0.2, tick=0.1)
    service = WatchService(settings)
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    t_end = time.monotonic() + 120
    while time.monotonic() < t_end and not (service.page and service.queue.counts().get("done")):
        time.sleep(0.1)
    assert service.queue.counts().get("done") == 1
    yield service, rec
    service.stop_event.set()
    thread.join(30)


def _get(url: str, data: bytes | None = None, headers: dict | None = None) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers or {}), timeout=10) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def test_page_lists_scans_and_refuses_what_it_must(watcher):
    service, _rec = watcher
    base = service.page.url
    assert _get(base)[0] == 403  # no token
    assert _get(base + "?token=wrong")[0] == 403
    code, body = _get(base + "?token=s3cret")
    assert code == 200 and "a.h5" in body and "done" in body and "a_preview.png" in body
    code, png = _get(base + "file/reca/a_preview.png?token=s3cret")
    assert code == 200 and png.startswith("\ufffdPNG")
    for bad in (
        "file/../secret.txt",
        "file/%2e%2e/secret.txt",
        "file/reca/../../secret.txt",
        "file//etc/passwd",
        "file/.alsmicroct-watch.sqlite",
        "file/.alsmicroct-watch.log",
    ):
        code, text = _get(base + bad + "?token=s3cret")
        assert code in (403, 404) and "outside REC_DIR" not in text.replace("403: outside REC_DIR", ""), bad
    form = b"scan=a.h5&cor=65.5&params="
    assert _get(base + "rerun?token=s3cret", form)[0] == 403  # no CSRF field
    csrf = service.page.csrf.encode()
    assert (
        _get(base + "rerun?token=s3cret", form + b"&csrf=" + csrf, {"Origin": "http://evil.example"})[0] == 403
    )  # cross-site
    assert len(service.queue.attempts_of("a.h5")) == 1


def test_binding_elsewhere_needs_a_token(tmp_path):
    from alsmicroct.errors import ParameterError

    with pytest.raises(ParameterError, match="needs a token"):
        WatchSettings(tmp_path, tmp_path / "rec", host="0.0.0.0", port=8832)


@pytest.mark.skipif(
    not (shutil.which("chromium") and shutil.which("chromedriver")),
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
)
def test_page_in_a_real_headless_browser(watcher, tmp_path):
    from PIL import Image
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    service, _rec = watcher
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    try:
        driver.get(service.page.url + "?token=s3cret")
        table = driver.find_element(By.ID, "queue")
        assert table.is_displayed()
        names = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "tr.scan td.name")]
        assert names == ["a.h5"]
        assert driver.find_element(By.CSS_SELECTOR, "tr.scan td.state").text == "done"
        img = driver.find_element(By.CSS_SELECTOR, "img.preview")
        t_end = time.monotonic() + 20
        while time.monotonic() < t_end and not driver.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth > 0", img
        ):
            time.sleep(0.1)
        assert driver.execute_script("return arguments[0].naturalWidth", img) > 0
        shot = tmp_path / "page.png"
        assert driver.save_screenshot(str(shot))
        # the essentials on the screenshot: the preview's pixels (not page white) where the image is
        rect = img.rect
        with Image.open(shot) as im:
            scale = im.size[0] / driver.execute_script("return window.innerWidth")
            box = tuple(
                int(v * scale) for v in (rect["x"], rect["y"], rect["x"] + rect["width"], rect["y"] + rect["height"])
            )
            crop = im.convert("L").crop(box)
            dark = sum(crop.histogram()[:64]) / (crop.size[0] * crop.size[1])
        assert dark > 0.3, "the preview picture is not visible on the screenshot"
        # the re-run form from the page queues a new attempt
        driver.find_element(By.NAME, "params").send_keys("butterworth_cutoff=0.3")
        driver.find_element(By.CSS_SELECTOR, "form button").click()
        t_end = time.monotonic() + 20
        while time.monotonic() < t_end and len(service.queue.attempts_of("a.h5")) < 2:
            time.sleep(0.1)
        assert service.queue.attempts_of("a.h5")[-1].params["butterworth_cutoff"] == 0.3
    finally:
        driver.quit()
