"""The outbox of `make run` (issue 14, part 6): the e-mails Django's file backend wrote.

`make run` sets DJANGO_EMAIL_BACKEND to django.core.mail.backends.filebased.EmailBackend, which
appends each message it sends to a file in DJANGO_EMAIL_FILE_PATH (one file per connection),
followed by a line of 79 dashes. These reads parse the files with Python's `email` package
(policy `default`). A message is named by its file's name and its index in that file; a name is
only ever looked up among the files the folder lists, so no path outside the outbox is read.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

from django.conf import settings

FILE_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
# What the file backend writes after each message (django.core.mail.backends.filebased).
SEPARATOR = re.compile(rb"^-{79}\n", re.MULTILINE)
FILE_NAME = re.compile(r"[\w.-]+\.log")
LISTED = 200  # the newest messages the list shows


def outbox_folder() -> Path | None:
    """The folder of the file backend, or None when e-mails go elsewhere (SMTP)."""
    mailer = settings.MAILERS.get("default", {})
    if mailer.get("BACKEND") != FILE_BACKEND:
        return None
    return Path(mailer.get("OPTIONS", {})["file_path"]).resolve()


def _files(folder: Path) -> list[Path]:
    """The outbox's message files, newest first."""
    if not folder.is_dir():
        return []
    files = [path for path in folder.iterdir() if FILE_NAME.fullmatch(path.name) and path.is_file()]
    return sorted(files, key=lambda path: (path.stat().st_mtime, path.name), reverse=True)


def _messages_of(path: Path) -> list[EmailMessage]:
    chunks = SEPARATOR.split(path.read_bytes())
    return [
        email.message_from_bytes(chunk, policy=email.policy.default)  # type: ignore[misc]
        for chunk in chunks
        if chunk.strip()
    ]


@dataclass(frozen=True)
class OutboxMessage:
    file_name: str
    index: int
    message: EmailMessage

    @property
    def date(self) -> datetime | None:
        header = self.message["Date"]
        return getattr(header, "datetime", None)

    @property
    def attachments(self) -> list[EmailMessage]:
        return list(self.message.iter_attachments())  # type: ignore[arg-type]

    @property
    def text(self) -> str | None:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else None  # type: ignore[union-attr]

    @property
    def html(self) -> str | None:
        part = self.message.get_body(preferencelist=("html",))
        return part.get_content() if part is not None else None  # type: ignore[union-attr]


def outbox_messages(folder: Path, limit: int = LISTED) -> list[OutboxMessage]:
    """The newest `limit` messages of the outbox, newest first."""
    found: list[OutboxMessage] = []
    for path in _files(folder):
        messages = _messages_of(path)
        found.extend(OutboxMessage(path.name, index, message) for index, message in reversed(list(enumerate(messages))))
        if len(found) >= limit:
            break
    return found[:limit]


def outbox_message(folder: Path, file_name: str, index: int) -> OutboxMessage | None:
    """One message, or None when the outbox has no such file or index."""
    if not FILE_NAME.fullmatch(file_name):
        return None
    path = next((path for path in _files(folder) if path.name == file_name), None)
    if path is None:
        return None
    messages = _messages_of(path)
    if not 0 <= index < len(messages):
        return None
    return OutboxMessage(file_name, index, messages[index])
