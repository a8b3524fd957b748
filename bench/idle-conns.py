#!/usr/bin/env python3
"""Idle-connection holder for scripts/bench-compare's memory case.

Usage: idle-conns.py HOST PORT N
Opens N connections (raise `ulimit -n` first), prints `ready CONNECTED` on stdout and
waits for a line on stdin; then sends 8 bytes on every connection, checks each echo
(bounded: 30 s in all), prints `echoed OK` and exits. Connects that fail or take over
5 s are skipped, so the count may be below N.
"""
import selectors
import socket
import sys
import time


def main():
    host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    conns = []
    deadline = time.monotonic() + 120
    for _ in range(n):
        if time.monotonic() > deadline:
            break
        try:
            s = socket.create_connection((host, port), timeout=5)
        except OSError:
            continue
        conns.append(s)
    print(f"ready {len(conns)}", flush=True)
    sys.stdin.readline()

    sel = selectors.DefaultSelector()
    want = {}
    for i, s in enumerate(conns):
        msg = i.to_bytes(8, "big")
        try:
            s.sendall(msg)
        except OSError:
            continue
        s.setblocking(False)
        want[s] = msg
        sel.register(s, selectors.EVENT_READ)
    got = {s: b"" for s in want}
    ok = 0
    deadline = time.monotonic() + 30
    while want and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            s = key.fileobj
            try:
                data = s.recv(64)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            got[s] += data
            if not data or len(got[s]) >= 8:
                ok += got[s] == want[s]
                sel.unregister(s)
                del want[s]
    print(f"echoed {ok}", flush=True)


if __name__ == "__main__":
    main()
