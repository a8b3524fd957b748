"""Drives headless Chromium through a `sockserv http` site for tests/http_browser.rs.

Usage: browse.py BASE_URL EXPECTED_DOWNLOAD_FILE

Clicks through the directory listing, downloads a file, plays and seeks a video, and
reloads a page; prints one JSON report on stdout (titles, links, every response's URL
and status as the page saw it and as it came over the wire, the download compared with
the fixture, where the seek landed) and leaves the judging to the Rust test. Exits 1
with the report and an "error" field when a step fails or times out.
Every wait is bounded by TIMEOUT_MS.
"""

import json
import sys
import tempfile

from playwright.sync_api import sync_playwright

TIMEOUT_MS = 15_000
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

SEEK = """() => new Promise((resolve, reject) => {
    const video = document.getElementById('clip');
    const timer = setTimeout(() => reject(new Error('no seeked event')), 10000);
    video.addEventListener('seeked', () => {
        clearTimeout(timer);
        resolve(video.currentTime);
    }, { once: true });
    video.currentTime = video.duration * 0.75;
})"""


def browse(page, base, expected_download, report):
    # The listing, then a click into a subdirectory's listing.
    page.goto(base + "/")
    report["root_title"] = page.title()
    page.click("a[href='docs/']")
    page.wait_for_url(base + "/docs/")
    report["docs_heading"] = page.inner_text("h1")
    report["docs_links"] = page.eval_on_selector_all(
        "a", "links => links.map(a => a.textContent)"
    )

    # A click on a binary file is a download: compare its bytes with the fixture.
    with page.expect_download() as info:
        page.click("a[href='data.bin']")
    download = info.value
    with open(download.path(), "rb") as got, open(expected_download, "rb") as want:
        report["download_matches"] = got.read() == want.read()
    report["download_name"] = download.suggested_filename

    # A click on a text file shows it.
    page.click("a[href='report.txt']")
    page.wait_for_url(base + "/docs/report.txt")
    report["report_text"] = page.inner_text("body")

    # The video: metadata loaded, then a seek that must complete.
    page.goto(base + "/media/player.html")
    page.wait_for_function("document.getElementById('clip').readyState >= 1")
    report["video_duration"] = page.evaluate("document.getElementById('clip').duration")
    report["seeked_to"] = page.evaluate(SEEK)

    # A page, then a reload: Chromium revalidates and the server says 304.
    first = page.goto(base + "/page.html")
    report["page_status"] = first.status
    again = page.reload()
    report["reload_status"] = again.status


def main():
    base, expected_download = sys.argv[1], sys.argv[2]
    report = {"responses": [], "wire": []}
    status = 0
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=ARGS,
            accept_downloads=True,
            timeout=TIMEOUT_MS,
        )
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        page = context.pages[0] if context.pages else context.new_page()
        page.on(
            "response",
            lambda response: report["responses"].append(
                {
                    "url": response.url,
                    "status": response.status,
                    "range": response.request.headers.get("range"),
                }
            ),
        )
        # Chromium hands the page a revalidated response as the cached 200; the status
        # that came over the wire (the 304) is in CDP's responseReceivedExtraInfo.
        urls = {}
        cdp = context.new_cdp_session(page)
        cdp.on(
            "Network.requestWillBeSent",
            lambda event: urls.__setitem__(event["requestId"], event["request"]["url"]),
        )
        cdp.on(
            "Network.responseReceivedExtraInfo",
            lambda event: report["wire"].append(
                {"id": event["requestId"], "status": event.get("statusCode")}
            ),
        )
        cdp.send("Network.enable")
        try:
            browse(page, base, expected_download, report)
        except Exception as error:  # report what was seen, then fail
            report["error"] = f"{type(error).__name__}: {error}"
            status = 1
        finally:
            context.close()
    for seen in report["wire"]:
        seen["url"] = urls.get(seen.pop("id"))
    print(json.dumps(report))
    return status


if __name__ == "__main__":
    sys.exit(main())
