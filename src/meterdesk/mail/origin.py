"""Whether a letter really comes from its From address: a valid DKIM signature (dkimpy, docs/adr/
0016) whose domain is aligned with the From domain, or an ``Authentication-Results`` header added
by a mail host the utility trusts. Only then may a letter give the account number alone and get
the account's data in its answer."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path

import dkim

log = logging.getLogger(__name__)

TxtLookup = Callable[..., bytes | None]


@cache
def _records(path: str) -> dict[bytes, bytes]:
    """The key records of a file: lines ``selector._domainkey.domain <TXT value>``."""
    records: dict[bytes, bytes] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _space, value = line.partition(" ")
        records[name.strip().rstrip(".").lower().encode()] = value.strip().strip('"').encode()
    return records


def records_lookup(path: str) -> TxtLookup:
    """A dkimpy ``dnsfunc`` that answers from the file at ``path`` instead of DNS."""

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return _records(path).get(name.rstrip(b".").lower())

    return lookup


def aligned(signer: str, author: str) -> bool:
    """DMARC's relaxed alignment, simplified: the signing domain is the From domain or a parent
    of it (mail.example.ru is aligned with a signature of example.ru)."""
    signer, author = signer.lower().rstrip("."), author.lower().rstrip(".")
    return bool(signer) and (author == signer or author.endswith("." + signer))


def dkim_domains(raw: bytes, lookup: TxtLookup | None = None) -> list[str]:
    """The domains of the letter's valid DKIM signatures."""
    signer = dkim.DKIM(raw, minkey=1024, timeout=5)
    count = sum(1 for name, _value in signer.headers if name.lower() == b"dkim-signature")
    domains = []
    for index in range(count):
        try:
            valid = signer.verify(idx=index, dnsfunc=lookup) if lookup else signer.verify(idx=index)
        except Exception as error:  # a broken signature or key, DNS down: not verified
            log.info("DKIM signature %s not verified: %s", index, error)
            continue
        if valid and signer.domain:
            domains.append(signer.domain.decode("ascii", "replace"))
    return domains


_RESULT = re.compile(r"\b(dkim|dmarc)\s*=\s*(\w+)([^;]*)", re.IGNORECASE)


def authentication_results_pass(header: str, author: str, trusted: Iterable[str]) -> bool:
    """Whether an ``Authentication-Results`` header of a trusted host (its authserv-id in
    ``trusted``) says DMARC passed for the From domain, or DKIM passed for an aligned domain."""
    authserv, _semicolon, results = header.partition(";")
    if authserv.strip().split()[0:1] not in ([t] for t in trusted):
        return False
    for method, result, props in _RESULT.findall(results):
        if result.lower() != "pass":
            continue
        domain = re.search(r"header\.(?:d|from|i)\s*=\s*@?([\w.-]+)", props, re.IGNORECASE)
        if domain and aligned(domain.group(1).rsplit("@", 1)[-1], author):
            return True
        if method.lower() == "dmarc" and domain is None:
            return False
    return False


def verified(
    raw: bytes,
    author_domain: str,
    *,
    authentication_results: str = "",
    trusted: Iterable[str] = (),
    records: str | None = None,
) -> bool:
    """Whether the letter ``raw`` is from ``author_domain``: a valid aligned DKIM signature (its
    keys from DNS, or from the file ``records``), or the topmost ``authentication_results`` header
    from a ``trusted`` host (only the topmost: the utility's own host adds it last, and one
    written lower down could be the sender's)."""
    if not author_domain:
        return False
    trusted = tuple(t for t in trusted if t)
    if (
        trusted
        and authentication_results
        and authentication_results_pass(authentication_results, author_domain, trusted)
    ):
        return True
    lookup = records_lookup(records) if records else None
    return any(aligned(domain, author_domain) for domain in dkim_domains(raw, lookup))
