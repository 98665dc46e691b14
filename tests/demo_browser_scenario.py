"""Browser scenario for the Gradio demo, run INSIDE a loopback-only network namespace.

    python tests/demo_browser_scenario.py HOME VIDEO IMAGE BROKEN OUT_JSON
"""
from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.browser_support import CHROMIUM, audited_server, chromium_args, free_port, non_loopback_connections  # noqa: E402


async def answer_or_error(page, answer, *, timeout: float) -> None:
    """Wait for ``answer``; an error toast instead fails at once, with its text."""
    error = page.locator(".toast-body.error")
    await answer.or_(error).first.wait_for(timeout=timeout)
    if await error.count() and not await answer.count():
        raise AssertionError(f"the demo answered with an error: {await error.first.inner_text()}")


def final_answer(page, *, kept: bool):
    """The reaction summary's answer once both models have answered (a kept answer or a computed one)."""
    box = page.locator("#reaction-summary").filter(has_not_text="still working")
    box = box.filter(has_text="Kept answer") if kept else box.filter(has_not_text="Kept answer")
    return box.locator("strong")


async def main(home: Path, video: Path, image: Path, broken: Path, out: Path) -> None:
    from playwright.async_api import async_playwright

    port = free_port()
    connections = home / "demo-connections.jsonl"
    report: dict = {"requests": []}
    with audited_server([sys.executable, "-m", "app.demo", "--port", str(port)], home=home, port=port, ready_path="",
                        log_name="demo.log", connections_log=connections, start_timeout=120) as url:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM,
                                              args=chromium_args(video.with_suffix(".none.y4m"), home / "netlog.json"))
            page = await browser.new_page()
            page.on("request", lambda r: report["requests"].append(r.url))
            await page.goto(url)
            await page.get_by_role("tab", name="Reaction").wait_for(timeout=60_000)
            # 0) the first example, whose answer demo-models kept: the DEMO model's answer at once
            t = time.monotonic()
            await page.locator("#reaction-examples .gallery-item").first.click()
            await answer_or_error(page, final_answer(page, kept=True), timeout=60_000)
            report["first_example_s"] = round(time.monotonic() - t, 2)
            report["first_example_summary"] = await page.locator("#reaction-summary").inner_text()
            report["first_example_frames"] = await page.locator("#reaction-frames img").count()
            await page.locator("#reaction-video button[aria-label='Clear']").first.click()
            # 1) a reaction video -> three probability sets
            t = time.monotonic()
            await page.locator("#reaction-video input[type=file]").set_input_files(str(video))
            await page.locator("#reaction-video video").wait_for(timeout=60_000)
            await page.locator("#reaction-go").click()
            # the landmark model answers first; the summary says so until the pixel model has too
            await answer_or_error(page, final_answer(page, kept=False), timeout=180_000)
            report["reaction_s"] = round(time.monotonic() - t, 2)
            report["labels"] = {k: await page.locator(f"#{k}-probs").inner_text() for k in ("pbe", "lbe", "fused")}
            report["summary"] = await page.locator("#reaction-summary").inner_text()
            # 2) a broken file -> the error message
            await page.locator("#reaction-video button[aria-label='Clear']").first.click()
            await page.locator("#reaction-video input[type=file]").set_input_files(str(broken))
            await asyncio.sleep(2.0)
            await page.locator("#reaction-go").click()
            error = page.get_by_text("not a readable video").or_(page.get_by_text("Invalid video")).or_(
                page.get_by_text("could not")).first
            await error.wait_for(timeout=60_000)
            report["broken_error"] = await error.inner_text()
            for close in await page.locator(".toast-close").all():  # dismiss it before the next step
                await close.click()
            await page.locator(".toast-body.error").first.wait_for(state="detached", timeout=10_000)
            # 3) an image -> a heat map
            await page.get_by_role("tab", name="Preference").click()
            await page.locator("#pref-image input[type=file]").set_input_files(str(image))
            await page.locator("#pref-go").click()
            await answer_or_error(page, page.locator("#pref-cam img"), timeout=120_000)
            report["pref_labels"] = await page.locator("#pref-probs").inner_text()
            report["heat_map_src"] = (await page.locator("#pref-cam img").get_attribute("src"))[:40]
            await browser.close()
    report["server_non_loopback"] = non_loopback_connections(connections)
    out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    asyncio.run(main(*(Path(a) for a in sys.argv[1:6])))
