"""A real SMTP server on localhost for the delivery tests (aiosmtpd; RELIABILITY 13).

`running_smtp_server()` starts one on 127.0.0.1 on a free port in a thread of the test process,
so what it received survives a killed worker process. It records every message it accepts
(envelope recipients, subject, attachments, HTML and plain bodies), can refuse chosen
recipients with a 550 as a real server would, can wait a little per message, and can hold its
reply to one chosen message so a test can kill a worker while that send is in flight.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller


@dataclass
class Received:
    recipients: list[str]
    subject: str
    attachments: dict[str, bytes]
    html: str
    text: str
    raw: bytes


@dataclass
class SMTPServer:
    host: str
    port: int
    delay: float = 0.0
    refuse: set[str] = field(default_factory=set)
    messages: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Hold the reply to the `hold_at`-th message (it is recorded first) until `release` is set:
    # the client is then surely in the middle of that send.
    hold_at: int | None = None
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    sessions: int = 0  # SMTP conversations (EHLO/HELO): connections the client opened

    # aiosmtpd handler hooks ------------------------------------------------------------------

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        with self.lock:
            self.sessions += 1
        return responses

    async def handle_HELO(self, server, session, envelope, hostname):
        session.host_name = hostname
        with self.lock:
            self.sessions += 1
        return f"250 {server.hostname}"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        attachments = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
        html_part = message.get_body(preferencelist=("html",))
        text_part = message.get_body(preferencelist=("plain",))
        received = Received(
            recipients=list(envelope.rcpt_tos),
            subject=str(message["Subject"]),
            attachments=attachments,
            html=html_part.get_content() if html_part is not None else "",
            text=text_part.get_content() if text_part is not None else "",
            raw=envelope.original_content,
        )
        with self.lock:
            self.messages.append(received)
            hold = len(self.messages) == self.hold_at
        if hold:
            self.held.set()
            while not self.release.is_set():
                await asyncio.sleep(0.01)
        return "250 Message accepted for delivery"

    # For the tests ---------------------------------------------------------------------------

    @property
    def count(self) -> int:
        with self.lock:
            return len(self.messages)

    def received(self) -> list[Received]:
        with self.lock:
            return list(self.messages)

    def per_recipient(self) -> Counter:
        return Counter(address for message in self.received() for address in message.recipients)

    def to(self, address: str) -> list[Received]:
        return [message for message in self.received() if address in message.recipients]

    def wait_for(self, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.count < count:
            assert time.monotonic() < deadline, f"the server got {self.count} messages, not {count}"
            time.sleep(0.005)

    def mailers(self) -> dict:
        """A MAILERS setting (crm/settings.py's shape) that sends to this server."""
        return {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": self.host, "port": self.port, "username": "", "password": "", "timeout": 10},
            }
        }

    def environment(self) -> dict[str, str]:
        """The environment a `manage.py` process needs to send to this server (CONTRACT "Environment")."""
        return {
            "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": self.host,
            "EMAIL_PORT": str(self.port),
            "EMAIL_TIMEOUT": "10",
        }


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


@contextmanager
def running_smtp_server(*, delay: float = 0.0) -> Iterator[SMTPServer]:
    host = "127.0.0.1"
    server = SMTPServer(host=host, port=free_port(host), delay=delay)
    controller = Controller(server, hostname=host, port=server.port, data_size_limit=20 * 1024 * 1024)
    controller.start()
    try:
        yield server
    finally:
        server.release.set()
        controller.stop()
