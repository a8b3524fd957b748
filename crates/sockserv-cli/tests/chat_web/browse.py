"""Drives headless Chromium through `sockserv chat --web` for tests/chat_web.rs.

Usage: browse.py BASE_URL TCP_HOST TCP_PORT

Two pages (one desktop, one phone-width) and a raw TCP line client join one room; they
exchange messages, rename, ask /who, send HTML as text, and one page reloads. Then the
script prints "ready", the test stops the server, and the pages must show that the
connection dropped. Prints one JSON report on stdout (what each side saw) and leaves the
judging to the Rust test; exits 1 with an "error" field when a step fails or times out.
Every wait is bounded by TIMEOUT_MS.
"""

import json
import socket
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

TIMEOUT_MS = 15_000
# The same Chromium, started the same way, as the HTTP browser test's.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "http_browser"))
from browse import ARGS, CHROMIUM  # noqa: E402

XSS = "<img src=x onerror=alert(1)>"


class LineClient:
    """A chat member over plain TCP, reading whole lines."""

    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=TIMEOUT_MS / 1000)
        self.buffer = b""

    def send(self, line):
        self.sock.sendall(line.encode() + b"\n")

    def line(self):
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("the server closed the line client")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode()

    def until(self, text):
        """Lines up to and including the first that contains `text`."""
        seen = []
        while not seen or text not in seen[-1]:
            seen.append(self.line())
        return seen


def messages(page):
    """The message list as [kind, nick, text] triples."""
    return page.eval_on_selector_all(
        "#messages li",
        """items => items.map(li => [li.className,
            li.querySelector('.nick') ? li.querySelector('.nick').textContent : null,
            li.querySelector('.text').textContent])""",
    )


def wait_text(page, text):
    """Waits until some message's text is exactly `text`."""
    page.wait_for_function(
        """text => [...document.querySelectorAll('#messages .text')]
            .some(t => t.textContent === text)""",
        arg=text,
        timeout=TIMEOUT_MS,
    )


def open_chat(page, base):
    page.goto(base + "/")
    page.wait_for_selector("#status[data-state='open']", timeout=TIMEOUT_MS)
    page.wait_for_function(
        "() => document.getElementById('me').textContent !== ''", timeout=TIMEOUT_MS
    )
    return page.inner_text("#me")


def say(page, line):
    page.fill("#input", line)
    page.press("#input", "Enter")


def who(page):
    return page.eval_on_selector_all("#who li", "items => items.map(li => li.textContent)")


def run(browser, base, host, port, report):
    desktop = browser.new_context(viewport={"width": 1024, "height": 700})
    phone = browser.new_context(viewport={"width": 360, "height": 640}, is_mobile=True)
    a = desktop.new_page()
    b = phone.new_page()
    dialogs = []
    for page in (a, b):
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    report["nick_a"] = open_chat(a, base)
    report["nick_b"] = open_chat(b, base)
    line = LineClient(host, port)
    report["line_welcome"] = line.line()
    line_nick = report["line_welcome"].rsplit(" ", 1)[-1]
    wait_text(a, f"* {line_nick} joined")

    # Messages from every side, in order.
    for i in range(3):
        say(a, f"from a {i}")
    for i in range(3):
        line.send(f"from line {i}")
    wait_text(b, "from line 2")
    wait_text(b, "from a 2")
    report["b_saw"] = messages(b)
    report["line_saw"] = line.until("from a 2")
    say(b, "from b")
    wait_text(a, "from b")
    report["line_saw_b"] = line.until("from b")[-1]

    # /nick and /who; the member lists follow.
    say(a, "/nick alice")
    wait_text(b, f"* {report['nick_a']} is now alice")
    report["line_saw_nick"] = line.until("is now alice")[-1]
    a.wait_for_function(
        "() => document.getElementById('me').textContent === 'alice'", timeout=TIMEOUT_MS
    )
    b.wait_for_function(
        "() => [...document.querySelectorAll('#who li')].some(li => li.textContent === 'alice')",
        timeout=TIMEOUT_MS,
    )
    say(b, "/who")
    b.wait_for_function(
        """() => [...document.querySelectorAll('#messages .text')]
            .some(t => t.textContent.startsWith('* online (3): '))""",
        timeout=TIMEOUT_MS,
    )
    report["who_b"] = who(b)
    report["who_line"] = [l for l in messages(b) if l[2].startswith("* online")][-1][2]

    # HTML in a message is text.
    say(a, XSS)
    wait_text(b, XSS)
    report["xss_images"] = b.eval_on_selector_all("#messages img", "imgs => imgs.length")
    report["xss_line"] = line.until("onerror")[-1]

    # The phone-width page fits its screen: no sideways scrolling, the input visible.
    report["phone_scroll_width"] = b.evaluate("() => document.documentElement.scrollWidth")
    report["phone_input_visible"] = b.is_visible("#input")

    # A reloaded page rejoins the room (as a new member) and keeps talking.
    b.reload()
    report["nick_b_after_reload"] = open_chat(b, base)
    wait_text(a, f"* {report['nick_b_after_reload']} joined")
    say(b, "back again")
    wait_text(a, "back again")
    report["line_saw_reload"] = line.until("back again")[-1]

    # A page that chose a nick takes it again after a reload.
    a.reload()
    open_chat(a, base)
    a.wait_for_function(
        "() => document.getElementById('me').textContent === 'alice'", timeout=TIMEOUT_MS
    )
    report["nick_a_after_reload"] = a.inner_text("#me")
    report["line_saw_a_back"] = line.until("is now alice")[-1]

    # The server stops: every page says so, plainly.
    print("ready", flush=True)
    for page in (a, b):
        page.wait_for_selector("#messages li.connection", timeout=TIMEOUT_MS)
        page.wait_for_selector("#status[data-state='closed']", timeout=TIMEOUT_MS)
    report["drop_notice"] = a.inner_text("#messages li.connection .text")
    report["dialogs"] = dialogs


def main():
    base, host, port = sys.argv[1].rstrip("/"), sys.argv[2], int(sys.argv[3])
    report = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            run(browser, base, host, port, report)
        except Exception as error:  # report what was seen so far, and why it stopped
            report["error"] = f"{type(error).__name__}: {error}"
            print(json.dumps(report), flush=True)
            sys.exit(1)
        finally:
            browser.close()
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
