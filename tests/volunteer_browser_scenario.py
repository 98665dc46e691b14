"""Browser scenario for the volunteer's entry, run INSIDE a loopback-only network namespace.

    python tests/volunteer_browser_scenario.py HOME FAKE_Y4M SHOTS_DIR OUT_JSON

Starts a real Streamlit server and Debian's headless Chromium (Playwright) with a fake camera
playing a real face video, and walks the study link (``/``) three times: at desktop size
(1280x860, mouse), at a phone's size (390x844, touch), and at desktop size with the keyboard
alone. At every step it keeps a screenshot in SHOTS_DIR, runs the axe-core audit (bundled with
axe-playwright-python, offline) and looks for anything that leads elsewhere (navigation,
sidebar, developer toolbar, links to another page). Writes what it found to OUT_JSON;
tests/annotation/test_volunteer_browser.py checks it against DuckDB.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser_support import (CAMERA_IFRAME, CHROMIUM, chromium_args, non_loopback_connections,  # noqa: E402
                                   streamlit_server)

OUTFITS = 2
RATINGS = {"desktop": [80, 50], "phone": [30, 65], "keyboard": [50, 12]}
VIEWPORTS = {"desktop": {"viewport": {"width": 1280, "height": 860}},
             "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
                       "device_scale_factor": 2},
             "keyboard": {"viewport": {"width": 1280, "height": 860}}}
ELSEWHERE = ('[data-testid="stSidebar"], [data-testid="stSidebarNav"], [data-testid="stMainMenu"], '
             '[data-testid="stAppDeployButton"], [data-testid="stToolbarActions"] *, [data-testid="stPageLink"]')
# the active element as the keyboard sees it: inside the camera component's iframe when focus is there
ACTIVE = """() => {
  let el = document.activeElement;
  while (el && el.tagName === 'IFRAME' && el.contentDocument) el = el.contentDocument.activeElement;
  if (!el) return '';
  const label = el.getAttribute('aria-label') || el.getAttribute('aria-valuetext') || '';
  const own = el.labels && el.labels.length ? el.labels[0].innerText : '';
  const text = el.tagName === 'BUTTON' ? el.innerText : '';  // not a focused container's whole text
  return [el.tagName, el.getAttribute('role') || '', label, own, text].join('|');
}"""

# which camera component the page shows: the same iframe (one connection per visit) keeps its mark
CAMERA = """() => {
  const frame = document.querySelector('%s');
  if (!frame) return null;
  frame.dataset.visit = frame.dataset.visit || String(Math.random());
  const button = frame.contentDocument && frame.contentDocument.querySelector('button');
  return {mark: frame.dataset.visit, button: button ? button.innerText : null};
}""" % CAMERA_IFRAME

SETTLED = """() => !document.querySelector('[data-stale="true"]')
  && !document.querySelector('[data-testid="stStatusWidgetRunningIcon"], [data-testid="stStatusWidgetRunningManIcon"]')"""


class Walk:
    """One volunteer's visit: screenshots, audits and what was reachable, step by step."""

    def __init__(self, page, name: str, shots: Path) -> None:
        self.page, self.name, self.shots = page, name, shots
        self.steps: list[dict] = []

    def step(self, label: str) -> None:
        from axe_playwright_python.sync_playwright import Axe

        # audit the settled page: while a rerun runs Streamlit fades the elements it has not redrawn yet
        self.page.wait_for_function(SETTLED, timeout=60_000)
        self.page.wait_for_timeout(300)
        shot = self.shots / f"{self.name}-{len(self.steps) + 1:02d}-{label}.png"
        self.page.screenshot(path=str(shot), full_page=True)
        violations = Axe().run(self.page).response["violations"]
        links = self.page.eval_on_selector_all(
            "a[href]", "els => els.map(a => a.href).filter(h => !h.startsWith('blob:') && !h.startsWith('data:'))")
        self.steps.append({
            "step": label, "screenshot": shot.name, "url": self.page.url,
            "elsewhere": self.page.locator(ELSEWHERE).count(), "links": links, "camera": self.page.evaluate(CAMERA),
            "violations": [{"id": v["id"], "impact": v["impact"], "help": v["help"],
                            "nodes": [" ".join(map(str, n["target"])) + " " + n.get("failureSummary", "")[:300]
                                      for n in v["nodes"]]} for v in violations],
        })
        print(self.name, label, json.dumps({k: self.steps[-1][k] for k in ("camera", "elsewhere", "links")}),
              [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in violations], file=sys.stderr, flush=True)

    def tab_to(self, pattern: str, limit: int = 60, *, button: bool = False) -> str:
        """Press Tab until the focused element's description contains ``pattern``; return it. For
        a ``button``, first wait (looking only) until the page's rerun has enabled it."""
        if button:
            self.page.wait_for_function(
                "p => [...document.querySelectorAll('button')].some(b => b.innerText.includes(p) && !b.disabled)",
                arg=pattern, timeout=60_000)
        for _ in range(limit):
            self.page.keyboard.press("Tab")
            active = self.page.evaluate(ACTIVE)
            if pattern.lower() in active.lower():  # the camera button is written in capitals by CSS
                return active
        raise AssertionError(f"{self.name}: Tab never reached {pattern!r} (last: {self.page.evaluate(ACTIVE)!r})")


def visit(browser, url: str, name: str, shots: Path) -> dict:
    context = browser.new_context(**VIEWPORTS[name])
    try:
        return _walk(context, url, name, shots)
    except Exception:
        for k, page in enumerate(context.pages):  # what the volunteer saw when it failed
            page.screenshot(path=str(shots / f"{name}-failed-{k}.png"), full_page=True)
        raise
    finally:
        context.close()


def _walk(context, url: str, name: str, shots: Path, fake_wait_ms: int = 240_000) -> dict:
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    page = context.new_page()
    page.set_default_timeout(90_000)
    walk = Walk(page, name, shots)
    keyboard = name == "keyboard"
    touch = name == "phone"

    def press(locator) -> None:
        locator.tap() if touch else locator.click()

    page.goto(url)
    page.get_by_text("Thank you for helping with this study").wait_for(timeout=60_000)
    walk.step("consent")
    if keyboard:
        walk.tab_to("I agree that my face is recorded")
        page.keyboard.press("Space")
        walk.tab_to("I agree — continue", button=True)
        page.keyboard.press("Enter")
    else:
        press(page.get_by_text("I agree that my face is recorded"))
        press(page.get_by_role("button", name="I agree — continue"))
    page.get_by_text("About you").wait_for(timeout=30_000)
    walk.step("profile")
    if keyboard:
        for label, answer in (("Age band", "25-34"), ("Gender", "female")):
            walk.tab_to(label)
            page.keyboard.type(answer)
            page.keyboard.press("Enter")
        walk.tab_to("Continue", button=True)
        page.keyboard.press("Enter")
    else:
        selects = page.locator('div[data-testid="stSelectbox"]')
        for k, answer in enumerate(("25-34", "female")):
            press(selects.nth(k))
            press(page.get_by_role("option", name=answer, exact=True))
        press(page.get_by_role("button", name="Continue"))
    page.get_by_text("Camera check").wait_for(timeout=30_000)
    walk.step("camera-check")
    t = time.monotonic()
    if keyboard:
        walk.tab_to("Turn camera on")
        page.keyboard.press("Enter")
    else:
        press(page.frame_locator(CAMERA_IFRAME).get_by_role("button", name="Turn camera on"))
    page.get_by_text("Your face is visible").wait_for(timeout=fake_wait_ms)
    camera_s = round(time.monotonic() - t, 2)
    walk.step("camera-on")
    if keyboard:
        walk.tab_to("Start the session", button=True)
        page.keyboard.press("Enter")
    else:
        press(page.get_by_role("button", name="Start the session"))
    outfit_sizes, untouched_disabled = [], []
    for k in range(OUTFITS):
        page.get_by_text(f"{k + 1} / {OUTFITS}").wait_for(timeout=60_000)
        if k == 0:
            page.get_by_role("button", name="Done looking").wait_for(timeout=fake_wait_ms)  # the take is on
            walk.step("outfit-recording")
        page.get_by_text("How much do you like this outfit?").wait_for(timeout=60_000)
        page.wait_for_function(SETTLED, timeout=60_000)  # this outfit's run has drawn all it keeps
        outfit_sizes.append(page.eval_on_selector_all(
            ".st-key-outfit img", "els => els.map(e => { const r = e.getBoundingClientRect(); "
            "return {width: r.width, height: r.height}; })"))
        confirm = page.get_by_role("button", name="Confirm")
        confirm_disabled_untouched = confirm.is_disabled()
        if k == 0:
            walk.step("rating-not-set")
        slider = page.get_by_role("slider")
        if keyboard:
            walk.tab_to("How much do you like")
        else:
            slider.focus()  # the arrows below are how a slider is set precisely, by touch or not
        for _ in range(RATINGS[name][k] + 1):  # from "not set" to 0, then up
            page.keyboard.press("ArrowRight")
        page.wait_for_function("() => [...document.querySelectorAll('button')].some("
                               "b => b.innerText.trim() === 'Confirm' && !b.disabled)", timeout=60_000)
        if k == 0:
            walk.step("rating-set")
        if keyboard:
            walk.tab_to("Confirm", button=True)
            page.keyboard.press("Enter")
        else:
            press(confirm)
        untouched_disabled.append(confirm_disabled_untouched)
    page.get_by_text("Thank you!").wait_for(timeout=60_000)
    walk.step("thanks")
    code = page.locator("code").first.inner_text().strip()
    return {"name": name, "steps": walk.steps, "requests": requests, "withdrawal_code": code,
            "confirm_disabled_untouched": untouched_disabled, "camera_s": camera_s, "outfit_sizes": outfit_sizes,
            "viewport": VIEWPORTS[name]["viewport"]}


def main(home: Path, fake: Path, shots: Path, out: Path) -> None:
    connections = home / "server-connections.jsonl"
    shots.mkdir(parents=True, exist_ok=True)
    env = {"IPE_OUTFITS_PER_SESSION": str(OUTFITS), "IPE_MAX_RECORD_SECONDS": "3", "IPE_MIN_RECORD_SECONDS": "1"}
    with streamlit_server(home, env, connections) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=chromium_args(fake, home / "netlog.json"))
        visits = [visit(browser, url, name, shots) for name in sys.argv[5:] or RATINGS]
        browser.close()
    out.write_text(json.dumps({"visits": visits, "ratings": RATINGS,
                               "server_non_loopback": non_loopback_connections(connections)}, indent=2))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
