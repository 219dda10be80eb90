"""A real SMTP server for the suite (aiosmtpd in a thread) and a way to read what it received."""

from __future__ import annotations

import re
import socket
import threading
import time
from dataclasses import dataclass
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller


@dataclass
class Received:
    """One delivered message."""

    to: list[str]
    subject: str
    text: str
    html: str

    def link(self, path: str) -> str:
        """The first URL in the text part whose path starts with `path`."""
        match = re.search(rf"https?://[^\s]+{re.escape(path)}[^\s]*", self.text)
        assert match, f"no {path} link in:\n{self.text}"
        return match.group(0)


class _Handler:
    def __init__(self, box: "Mailbox") -> None:
        self.box = box

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        message = message_from_bytes(envelope.content, policy=policy.default)
        text = message.get_body(("plain",))
        html = message.get_body(("html",))
        with self.box.lock:
            self.box.messages.append(
                Received(
                    to=list(envelope.rcpt_tos),
                    subject=str(message["Subject"]),
                    text=text.get_content() if text else "",
                    html=html.get_content() if html else "",
                )
            )
        return "250 Message accepted for delivery"


class Mailbox:
    """Everything the SMTP server received during the run."""

    def __init__(self) -> None:
        self.messages: list[Received] = []
        self.lock = threading.Lock()
        self.controller: Controller | None = None
        self.url = ""

    @classmethod
    def start(cls) -> "Mailbox":
        """Listen on a free local port."""
        box = cls()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        box.controller = Controller(_Handler(box), hostname="127.0.0.1", port=port)
        box.controller.start()
        box.url = f"smtp://127.0.0.1:{port}"
        return box

    def stop(self) -> None:
        """Shut the server down."""
        if self.controller:
            self.controller.stop()

    def to(self, address: str) -> list[Received]:
        """Messages delivered to `address`, oldest first."""
        with self.lock:
            return [m for m in self.messages if address.lower() in (t.lower() for t in m.to)]

    async def wait_for(self, address: str, subject_part: str, timeout: float = 20) -> Received:
        """The latest message to `address` whose subject contains `subject_part`, waiting for it."""
        import asyncio

        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.to(address) if subject_part.lower() in m.subject.lower()]
            if found:
                return found[-1]
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no email to {address} about {subject_part!r}; got {[m.subject for m in self.to(address)]}"
                )
            await asyncio.sleep(0.1)
