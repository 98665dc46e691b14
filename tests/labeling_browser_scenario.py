"""Browser scenario for the labeling page, run INSIDE a loopback-only network namespace.

    python tests/labeling_browser_scenario.py HOME OUT_JSON

Starts a real Streamlit server (IPE_LABEL_* env from the caller: subgroup 3, short break, no
gold) and Debian's headless Chromium (Playwright), signs in, labels with the keyboard and one
button, undoes, skips, waits out the break, and writes what it did (with the waits it made
before each answer) to OUT_JSON. tests/annotation/test_labeling_browser.py checks it against DuckDB.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser_support import CHROMIUM, non_loopback_connections, streamlit_server  # noqa: E402

ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-pings",
        "--disable-default-apps", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
COMPONENT = 'iframe[title*="keyboard_labeler"]'


def main(home: Path, out: Path) -> None:
    connections = home / "connections.jsonl"
    steps: list[dict] = []
    with streamlit_server(home, {}, connections) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(f"{url}/labeling_page")
        page.get_by_label("Your name or labeler id").fill("tester")
        page.get_by_role("button", name="Start labeling").click()
        frame = page.frame_locator(COMPONENT)
        seq = 0

        def wait_state(state: str) -> None:
            nonlocal seq
            frame.locator(f'body[data-state="{state}"][data-seq="{seq}"]').wait_for(state="attached", timeout=20_000)
            seq += 1

        def answer(key: str | None, wait_ms: int, *, button: str | None = None,
                   region: tuple[float, float] | None = None) -> None:
            wait_state("shown")
            caption = frame.locator("#caption").inner_text()
            t0 = time.perf_counter()
            page.wait_for_timeout(wait_ms)
            waited = time.perf_counter() - t0  # the image was painted before t0: a lower bound of the response
            if button:
                frame.get_by_role("button", name=button).click()
            else:
                page.keyboard.press(key)  # on the page's document: no click into the iframe needed
            # the key event happened before the press call returned: an upper bound of the response
            steps.append({"key": key or button, "wait_ms": round(waited * 1000),
                          "done_ms": round((time.perf_counter() - t0) * 1000), "caption": caption, "region": region})
            if region:  # the decisive-region click comes after the answer; the time was taken at the key
                frame.get_by_text("Click the part of the image").wait_for()
                box = frame.locator("#img").bounding_box()
                frame.locator("#img").click(position={"x": box["width"] * region[0], "y": box["height"] * region[1]})

        frame.locator('body[data-state="shown"]').wait_for(state="attached", timeout=20_000)
        page.screenshot(path=str(home / "labeling.png"))
        answer("ArrowRight", 300)  # 1 preferred
        answer("x", 400)  # 2 not preferred
        wait_state("shown")  # image 3 on screen: undo image 2
        page.keyboard.press("u")
        steps.append({"key": "u"})
        answer("s", 1300)  # 2 again: skip, slow
        answer("ArrowLeft", 200)  # 3 not preferred -> end of subgroup 1
        wait_state("break")
        page.keyboard.press("Enter")  # too early: the break is enforced in the browser and on the server
        page.wait_for_timeout(300)
        assert frame.locator("#pause").is_visible()
        frame.get_by_role("button", name="Continue (Enter)").wait_for(state="visible")
        frame.locator("#b-resume:not([disabled])").wait_for(timeout=20_000)
        page.keyboard.press("Enter")
        answer("a", 250)  # 4 preferred
        answer(None, 500, button="Not preferred (X)")  # 5 by button
        answer("Backspace", 100)  # Backspace = undo while image 6 is shown
        steps[-1]["undo"] = True
        answer("ArrowRight", 350)  # 5 again: preferred
        page.get_by_text("Click the decisive region after each answer").click()  # sidebar: focus leaves the page body
        frame.locator('body[data-region="1"]').wait_for(state="attached")
        answer("ArrowRight", 150, region=(0.25, 0.75))  # 6 preferred, then a click on the decisive region
        wait_state("done")
        browser.close()
    out.write_text(json.dumps({"steps": steps, "requests": requests,
                               "server_non_loopback": non_loopback_connections(connections)}, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
