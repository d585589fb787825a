"""The other ends of background work, for tests: a webhook receiver, an SMS gateway and an SMTP
server, each local on 127.0.0.1 (never another address) and each able to answer with an error,
hang, or hold a request until the test releases it. Every wait here is bounded."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

HOLD_SECONDS = 30  # a held or hanging request is answered after this at the latest

HOLD = "hold"  # take the request, keep the caller waiting until released, then answer 200 / 250
HANG = "hang"  # keep the caller waiting until released, then answer with an error: nothing taken


class _Holding:
    """What the receivers share: answers in turn (the last one repeats), and a request held until
    the test calls release()."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.lock = threading.Lock()
        self.holding = threading.Event()  # set while a request is held or hangs
        self.released = threading.Event()

    def next_answer(self):
        with self.lock:
            return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def hold(self) -> None:
        self.holding.set()
        self.released.wait(HOLD_SECONDS)

    def release(self) -> None:
        self.released.set()

    def wait_until_holding(self, timeout: float = HOLD_SECONDS) -> None:
        if not self.holding.wait(timeout):
            raise AssertionError(f"no request was held within {timeout} s")


class _LocalHttp(_Holding):
    path = "/"

    def __init__(self, answers):
        super().__init__(answers)
        self.requests: list[dict] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{self.path}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def received(self, request: dict, answer) -> int:
        """Record the request and return the status to answer."""
        self.requests.append(request)
        if answer in (HOLD, HANG):
            self.hold()
            return 200 if answer == HOLD else 503
        return answer

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the name http.server calls
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = {"path": self.path, "headers": dict(self.headers), "body": body}
                status = receiver.received(request, receiver.next_answer())
                try:
                    self.send_response(status)
                    receiver.extra_headers(self)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:  # the caller gave up (timed out, or was killed) while we held it
                    pass

            def log_message(self, *args):
                pass

        return Handler

    def extra_headers(self, handler) -> None:
        pass

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.release()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class Receiver(_LocalHttp):
    """A webhook receiver answering the given statuses in turn (or HOLD / HANG). Like a real one, it
    dedupes on the body's `id` (API.md: delivery is at-least-once): `events` holds each id once."""

    path = "/hook"

    def __init__(self, statuses=(200,), redirect_to: str | None = None):
        super().__init__(statuses)
        self.redirect_to = redirect_to

    def extra_headers(self, handler) -> None:
        if self.redirect_to:
            handler.send_header("Location", self.redirect_to)

    @property
    def statuses(self):
        return self.answers

    @property
    def events(self) -> dict[str, dict]:
        """Each event taken (answered 2xx or held), once per id, as its receiver would process it."""
        seen: dict[str, dict] = {}
        for request in self.requests:
            body = json.loads(request["body"])
            seen.setdefault(body["id"], body)
        return seen


class SmsGateway(_LocalHttp):
    """An SMS gateway answering the given statuses in turn (or HOLD / HANG). It honours the
    Idempotency-Key header as a real one does: a key it has sent a message for is answered 200
    without sending again. `sent` is what reached phones, one entry per message."""

    path = "/sms"

    def __init__(self, statuses=(200,)):
        super().__init__(statuses)
        self.sent: dict[str, dict] = {}

    def received(self, request: dict, answer) -> int:
        request["json"] = json.loads(request["body"])
        key = request["headers"].get("Idempotency-Key")
        if key in self.sent:  # a repeat of a message already sent
            self.requests.append(request)
            return 200
        if answer == HOLD or (isinstance(answer, int) and 200 <= answer < 300):
            self.sent[key] = request["json"]  # sent to the phone, then the answer (maybe late)
        return super().received(request, answer)


class SmtpServer(_Holding):
    """An SMTP server (aiosmtpd) answering each message in turn: "accept" (250), "reject" (554),
    HANG (no answer until released, then 451: nothing taken) or HOLD (the RCPT command held until
    released, before any of the message is sent). `messages` holds the messages it accepted,
    that is those it answered 250 (RFC 5321 §6.1: the server takes responsibility then)."""

    def __init__(self, answers=("accept",)):
        super().__init__(answers)
        self.messages: list[email.message.EmailMessage] = []
        self.attempts = 0
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802 - aiosmtpd's name
        self.attempts += 1
        session.answer = self.next_answer()
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if session.answer == HOLD:
            await asyncio.get_running_loop().run_in_executor(None, self.hold)
            session.answer = "accept"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if session.answer == HANG:
            await asyncio.get_running_loop().run_in_executor(None, self.hold)
            return "451 4.3.0 Answered too late"
        if session.answer == "reject":
            return "554 5.6.0 Message refused for the test"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(message)
        return "250 OK"

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.release()
        self.controller.stop()
