"""A foreign WebSocket client (Python's `websockets`) against `sockserv chat --web`.

Usage: ws_probe.py WS_URL TCP_HOST TCP_PORT protocol
       ws_probe.py WS_URL TCP_HOST TCP_PORT shutdown

`protocol` runs the framing, fragmentation, limit, UTF-8, ping/pong and close-code
checks (the server runs with --web-max-message 1000 --web-ping 300ms) and prints one
JSON report. `shutdown` joins, prints "ready", and reports how the server closed the
connection once the test has sent SIGTERM. Every wait is bounded by TIMEOUT.
"""

import contextlib
import json
import os
import socket
import struct
import sys
import time

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

TIMEOUT = 10
# Every connection opened, closed when the script ends.
CONNECTIONS = contextlib.ExitStack()


def join(url):
    ws = CONNECTIONS.enter_context(connect(url, open_timeout=TIMEOUT, close_timeout=TIMEOUT))
    welcome = ws.recv(timeout=TIMEOUT)
    return ws, welcome


def close_code_after(ws, raw=None, text=None, binary=None):
    """Sends something, then reads until the server closes; returns its close code."""
    if raw is not None:
        ws.socket.sendall(raw)
    elif text is not None:
        ws.send(text)
    elif binary is not None:
        ws.send(binary)
    try:
        while True:
            ws.recv(timeout=TIMEOUT)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


def masked_frame(opcode, payload, fin=True):
    """A client frame built by hand, for what `websockets` refuses to send."""
    mask = os.urandom(4)
    head = bytes([(0x80 if fin else 0) | opcode])
    if len(payload) < 126:
        head += bytes([0x80 | len(payload)])
    else:
        head += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def raw_upgrade(host, port):
    """A hand-made handshake on a plain socket: a client that never answers pings."""
    sock = socket.create_connection((host, port), timeout=TIMEOUT)
    sock.sendall(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    return sock


def read_until_eof(sock):
    """Every byte until the server closes (bounded by the socket timeout per read)."""
    data = b""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            return data, True
        data += chunk
    return data, False


def protocol(url, host, port):
    report = {}
    a, report["welcome_a"] = join(url)
    b, report["welcome_b"] = join(url)
    report["joined_seen_by_a"] = a.recv(timeout=TIMEOUT)

    # Framing: plain messages, in order, as one line each.
    for i in range(20):
        a.send(f"line {i}")
    report["in_order"] = [b.recv(timeout=TIMEOUT) for _ in range(20)]

    # Fragmentation: one message sent as three frames arrives as one line.
    a.send(["frag", "men", "ted"])
    report["fragmented"] = b.recv(timeout=TIMEOUT)

    # Ping from the client: answered.
    report["pong"] = a.ping(b"probe").wait(TIMEOUT)

    # The server pings a quiet client every 300 ms; websockets answers by itself, so the
    # connection stays up over several intervals (recv times out instead of closing).
    try:
        b.recv(timeout=1.5)
        report["quiet_client_kept"] = "got a message"
    except TimeoutError:
        report["quiet_client_kept"] = True
    except ConnectionClosed as closed:
        report["quiet_client_kept"] = f"closed {closed.rcvd}"

    # A client that never answers pings is dropped.
    sock = raw_upgrade(host, port)
    data, eof = read_until_eof(sock)
    report["silent_client_dropped"] = eof
    report["silent_client_got_ping"] = b"\x89\x00" in data
    sock.close()

    # Limits and errors: each closes its connection with the RFC's code.
    c, _ = join(url)
    report["oversized"] = close_code_after(c, text="x" * 1001)
    c, _ = join(url)
    report["oversized_fragmented"] = close_code_after(
        c, raw=masked_frame(0x1, b"x" * 600, fin=False) + masked_frame(0x0, b"x" * 600)
    )
    c, _ = join(url)
    report["bad_utf8"] = close_code_after(c, raw=masked_frame(0x1, b"ok \xff\xfe"))
    c, _ = join(url)
    report["binary"] = close_code_after(c, binary=b"\x00\x01")
    c, _ = join(url)
    report["unmasked"] = close_code_after(c, raw=b"\x81\x02hi")
    c, _ = join(url)
    report["quit"] = close_code_after(c, text="/quit")

    # A close from the client: the server answers it, and the others hear the member left.
    b.close(code=1000, reason="done")
    report["client_close_answered"] = b.close_code
    seen = []
    try:
        while True:
            line = a.recv(timeout=TIMEOUT)
            seen.append(line)
            if line == "* guest2 left":
                break
    except (TimeoutError, ConnectionClosed):
        pass
    report["left_seen"] = seen[-1:] == ["* guest2 left"]
    a.close()
    return report


def shutdown(url):
    ws, welcome = join(url)
    print("ready", flush=True)
    lines = []
    code = None
    try:
        while True:
            lines.append(ws.recv(timeout=TIMEOUT))
    except ConnectionClosed as closed:
        code = closed.rcvd.code if closed.rcvd else None
    except TimeoutError:
        code = "timeout"
    return {"welcome": welcome, "lines": lines, "close_code": code}


def main():
    url, host, port, scenario = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    with CONNECTIONS:
        report = protocol(url, host, port) if scenario == "protocol" else shutdown(url)
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
