"""A raw letter read: its headers, its own text (plain, or HTML from web mail, in any common
charset, with quoted replies, forwarded parts and signatures taken out), its attachments, and
whether it was written by a machine (an auto-reply, a bounce, a mailing list) and so must never be
answered. Plain Python, no Django."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

#: Charsets tried, in this order, for text that does not say its own or says it wrongly.
FALLBACK_CHARSETS = ("utf-8", "windows-1251", "koi8-r")
_MACHINE_LOCALPARTS = {"mailer-daemon", "postmaster", "noreply", "no-reply", "do-not-reply", "donotreply"}


@dataclass(frozen=True)
class Letter:
    message_id: str
    sender: str  # the From address, lower case ("" if none)
    reply_to: str  # where an answer goes: Reply-To, else From ("" if neither is an address)
    subject: str
    text: str  # the letter's own text (``own_text``)
    in_reply_to: tuple[str, ...]  # the Message-IDs of In-Reply-To and References
    attachments: int
    images: int
    #: why the letter must not be answered (an auto-reply, a bounce, a list), "" if it may be
    automatic: str
    #: the topmost Authentication-Results header ("" if none): the last mail host's word
    authentication_results: str = ""


def parse(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)  # noqa: S101 - policy.default makes EmailMessage
    return message


def _header(message: Message, name: str) -> str:
    try:
        value = message.get(name)
    except (ValueError, IndexError, TypeError):  # a header too broken for the parser's registry
        value = None
    return " ".join(str(value).split()) if value is not None else ""


class _Headers:
    """A letter's headers as ``_header`` reads them, each parsed once and only when asked for: a
    name the letter lacks costs a dictionary look-up (most of those asked about are absent)."""

    def __init__(self, message: Message) -> None:
        self.message = message
        self.present = {name.lower() for name, _value in message.raw_items()}
        self.parsed: dict[str, str] = {}

    def __call__(self, name: str) -> str:
        key = name.lower()
        if key not in self.present:
            return ""
        if key not in self.parsed:
            self.parsed[key] = _header(self.message, name)
        return self.parsed[key]


def _address(value: str) -> str:
    _name, address = parseaddr(value)
    return address.strip().lower() if "@" in address else ""


def _message_ids(value: str) -> tuple[str, ...]:
    return tuple(re.findall(r"<[^<>\s]+>", value))


def decode(payload: bytes, charset: str | None) -> str:
    """Bytes of a text part as text: its declared charset if it decodes cleanly, else the first of
    ``FALLBACK_CHARSETS`` that does (a Russian letter that names none is UTF-8, Windows-1251 or
    KOI8-R; of the two single-byte ones the one that reads as more lower-case Russian wins)."""
    if charset:
        try:
            codecs.lookup(charset)
            return payload.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        pass
    candidates = [payload.decode(name, errors="replace") for name in FALLBACK_CHARSETS[1:]]
    return max(candidates, key=lambda text: len(re.findall(r"[а-я]", text)))


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    return decode(payload, part.get_content_charset())


class _HtmlText(HTMLParser):
    """The text of web mail's HTML, with the quoted letter (blockquote, gmail_quote, …) left out."""

    BLOCKS = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "table", "hr"}
    SKIP = {"style", "script", "head", "title", "blockquote"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stack: list[tuple[str, bool]] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"br", "hr", "img", "meta", "link", "input", "wbr"}:
            if tag in self.BLOCKS and not self.skipping:
                self.parts.append("\n")
            return
        marks = " ".join(v or "" for k, v in attrs if k in ("class", "id", "type")).lower()
        skip = tag in self.SKIP or "quote" in marks or "signature" in marks or marks == "cite"
        self.stack.append((tag, skip))
        self.skipping += skip
        if tag in self.BLOCKS and not self.skipping:
            self.parts.append("\n")
        elif tag in ("td", "th") and not self.skipping:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            name, skip = self.stack.pop()
            self.skipping -= skip
            if name == tag:
                break
        if tag in self.BLOCKS and not self.skipping:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_text(html: str) -> str:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    return "\n".join(" ".join(line.split()) for line in text.splitlines())


#: Where the letter's own text ends: a quoted or forwarded letter's header, a signature.
_CUT = re.compile(
    r"^\s*(?:"
    r"-{2,}\s*(?:original message|исходное сообщение|forwarded message|пересылаемое сообщение|"
    r"переслан\w* сообщение)\s*-*|"
    r"-{5,}\s*$|_{5,}\s*$|"
    r"-- ?$|"  # the signature separator
    r"(?:от|from|sent|отправлено|кому|to|date|дата)\s*:\s.*(?:@|\d{4}).*|"
    r"(?:on|в)\s.{3,120}(?:wrote|пишет|написал\w*)\s*:?\s*$|"
    r".{0,120}\d{1,2}:\d{2}.{0,120}(?:<[^>]+@[^>]+>|\S+@\S+)\s*:?\s*$|"  # 20.11.2026, 12:00, "Anna" <a@b.ru>:
    r"(?:с уважением|с наилучшими|спасибо\W*$|regards|best regards|kind regards|thanks\W*$|thank you\W*$)|"
    r"(?:отправлено|sent) (?:с|из|from) .{0,60}$|"
    r"(?:begin forwarded message|начало переадресованного сообщения)"
    r")",
    re.IGNORECASE,
)


def own_text(text: str) -> str:
    """The part of a letter its sender wrote now: up to the first quoted letter, forward or
    signature, without lines quoted with ``>``."""
    lines: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if _CUT.match(line):
            break
        if line.lstrip().startswith(">"):
            continue
        lines.append(line)
    return "\n".join(lines).strip()


def body_text(message: EmailMessage) -> tuple[str, int, int]:
    """The letter's text (plain preferred, else HTML as text), and how many attachments and
    images it has."""
    plain: list[str] = []
    html: list[str] = []
    attachments = images = 0
    for part in message.walk():
        if part.is_multipart():
            continue
        kind = part.get_content_type()
        disposition = (part.get_content_disposition() or "").lower()
        if part is not message and (disposition == "attachment" or not kind.startswith("text/")):
            attachments += 1
            images += kind.startswith("image/")
            continue
        if kind == "text/plain":
            plain.append(_part_text(part))
        elif kind == "text/html":
            html.append(html_text(_part_text(part)))
    text = "\n".join(plain) if any(t.strip() for t in plain) else "\n".join(html)
    return text, attachments, images


def automatic(message: Message, return_path: str | None, headers: _Headers | None = None) -> str:
    """Why a letter was written by a machine and must not be answered (RFC 3834 and the common
    signs of bounces and lists), or "" for a person's letter. ``return_path``: the envelope's
    MAIL FROM ("" for a bounce), None if not known (a letter read from a mailbox)."""
    header = headers or _Headers(message)
    auto = header("Auto-Submitted").lower()
    if auto and auto != "no":
        return "auto-submitted"
    if header("Precedence").lower() in {"bulk", "junk", "list", "auto_reply"}:
        return "precedence"
    if header("List-Id") or header("List-Unsubscribe") or header("List-Post"):
        return "mailing list"
    if return_path is not None and not return_path.strip("<> "):
        return "empty return path"
    if message.get_content_type() == "multipart/report":
        return "delivery report"
    if header("X-Autoreply") or header("X-Autorespond") or header("X-Auto-Reply"):
        return "auto-reply"
    if header("X-Auto-Response-Suppress").lower() in {"oof", "all"} and header(
        "X-Ms-Exchange-Generated-Message-Source"
    ):
        return "auto-reply"
    for value in (header("From"), header("Return-Path"), return_path or ""):
        local = _address(value).split("@")[0] if _address(value) else ""
        if local in _MACHINE_LOCALPARTS:
            return f"sent by {local}"
    return ""


def read(raw: bytes, return_path: str | None = None) -> Letter:
    """What ``raw`` says (``return_path`` as for ``automatic``)."""
    message = parse(raw)
    header = _Headers(message)
    sender = _address(header("From"))
    reply_to = ""
    for _name, address in getaddresses([header("Reply-To")]):
        if "@" in address:
            reply_to = address.strip().lower()
            break
    text, attachments, images = body_text(message)
    references = _message_ids(header("In-Reply-To")) + _message_ids(header("References"))
    return Letter(
        message_id=(_message_ids(header("Message-ID")) or ("",))[0][:255],
        sender=sender,
        reply_to=reply_to or sender,
        subject=header("Subject")[:500],
        text=own_text(text),
        in_reply_to=tuple(dict.fromkeys(references)),
        attachments=attachments,
        images=images,
        automatic=automatic(message, return_path, header),
        authentication_results=header("Authentication-Results"),
    )


def domain_of(address: str) -> str:
    try:
        return Address(addr_spec=address).domain.lower()
    except (ValueError, IndexError, TypeError):
        return address.rpartition("@")[2].lower()
