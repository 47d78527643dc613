"""A local SendGrid stand-in: a real HTTP server that answers POST /v3/mail/send the
way SendGrid does (202 + X-Message-Id; 400 with SendGrid's error body; 429 with
X-RateLimit-* headers; 500), records every request, and counts acceptances per
outbox key (the `outbox_key` custom arg of each personalization).

Used by the tests (in a thread) and by bench/outbox.py and the worker drill (in its
own process: `python -m tests.emails.standin PORT [DELAY]`).
"""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 202
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0


def bad_request(message: str, field_name: str | None = None) -> Reply:
    error = {"message": message, "field": field_name, "help": None}
    return Reply(
        400,
        {"Content-Type": "application/json"},
        json.dumps({"errors": [error]}).encode(),
    )


def rate_limited(reset_in: float = 2) -> Reply:
    return Reply(
        429,
        {
            "Content-Type": "application/json",
            "X-RateLimit-Limit": "600",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(int(time.time() + reset_in)),
        },
        json.dumps(
            {"errors": [{"message": "too many requests", "field": None, "help": None}]}
        ).encode(),
    )


def server_error() -> Reply:
    return Reply(
        500,
        {"Content-Type": "application/json"},
        b'{"errors":[{"message":"internal error"}]}',
    )


class StandIn:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, delay: float = 0.0):
        self.replies: deque[Reply] = deque()
        self.requests: list[dict] = []
        self.accepted = Counter()
        self.delay = delay
        self.lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                stand_in._handle(self, raw)

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> StandIn:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reply(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def keys(self, request: dict) -> list[str]:
        return [
            p.get("custom_args", {}).get("outbox_key")
            for p in request["body"].get("personalizations", [])
        ]

    def _handle(self, handler: BaseHTTPRequestHandler, raw: bytes) -> None:
        if handler.path != "/v3/mail/send":
            handler.send_response(404)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        with self.lock:
            reply = self.replies.popleft() if self.replies else Reply(delay=self.delay)
        body = json.loads(raw)
        request = {
            "body": body,
            "headers": dict(handler.headers),
            "status": reply.status,
        }
        with self.lock:
            self.requests.append(request)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.status == 202:
            with self.lock:
                self.accepted.update(self.keys(request))
        try:
            handler.send_response(reply.status)
            headers = dict(reply.headers)
            if reply.status == 202:
                headers.setdefault("X-Message-Id", uuid.uuid4().hex[:22])
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(reply.body)))
            handler.end_headers()
            handler.wfile.write(reply.body)
        except OSError:
            pass  # the client gave up (timeout): SendGrid would still have the mail


def serve(port: int, delay: float) -> None:
    """Run in its own process; GET /stats answers {"requests", "accepted"}."""
    stand_in = StandIn(port=port, delay=delay)
    original = stand_in.server.RequestHandlerClass

    class Handler(original):
        def do_GET(self):
            with stand_in.lock:
                stats = {
                    "requests": len(stand_in.requests),
                    "accepted": dict(stand_in.accepted),
                }
            body = json.dumps(stats).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    stand_in.server.RequestHandlerClass = Handler
    print(f"stand-in on {stand_in.url}", flush=True)
    stand_in.server.serve_forever()


if __name__ == "__main__":
    serve(int(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 0.0)
