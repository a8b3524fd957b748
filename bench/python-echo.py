#!/usr/bin/env python3
"""Reference server for scripts/bench-compare: Python's socketserver.ThreadingTCPServer echo.

Usage: python-echo.py [PORT]  (0 or nothing picks a free port). Prints
"listening on tcp://127.0.0.1:PORT" to stderr once it accepts.
"""
import socketserver
import sys


class Echo(socketserver.StreamRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(65536)
            if not data:
                return
            self.request.sendall(data)


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    # The default backlog of 5 makes mass connects wait out SYN retransmits (1 s, 3 s, ...),
    # which would measure the kernel's backoff, not the server.
    request_queue_size = 1024


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    with Server(("127.0.0.1", port), Echo) as server:
        print(f"listening on tcp://127.0.0.1:{server.server_address[1]}", file=sys.stderr, flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
