"""`meterdesk ivr …`: the phone line (docs/phone.md). ``serve`` answers SIP calls, ``prompts``
renders the fixed prompts, ``stats`` counts the calls of a period."""

from __future__ import annotations

import signal
import sys
from datetime import datetime
from typing import Any

import click

from meterdesk.cliutil import database_current, django_setup


@click.group(name="ivr", help="The phone line: the SIP endpoint, its prompts, its statistics.")
def ivr_group() -> None:
    pass


def _ready() -> None:
    django_setup()
    if not database_current():
        click.echo("The database is not up to date: run `meterdesk migrate` first.", err=True)
        sys.exit(2)


def _ports(_ctx: Any, _param: Any, value: str) -> tuple[int, int]:
    start, _sep, end = value.partition("-")
    try:
        low, high = int(start), int(end)
    except ValueError:
        raise click.BadParameter("a range of ports, e.g. 40000-40999") from None
    if not 1024 <= low < high <= 65535:
        raise click.BadParameter("a range of ports, e.g. 40000-40999")
    return low, high


@ivr_group.command(help="Answer calls: a SIP endpoint at sip:ivr@HOST:SIP-PORT.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--sip-port", default=5070, show_default=True, type=click.IntRange(1, 65535))
@click.option("--rtp-ports", default="40000-40999", show_default=True, callback=_ports)
@click.option("--language", default="ru", show_default=True, type=click.Choice(["ru", "en"]))
@click.option(
    "--registrar", default="", help="Register at this SIP URI (a trunk or PBX); else direct calls only."
)
def serve(host: str, sip_port: int, rtp_ports: tuple[int, int], language: str, registrar: str) -> None:
    _ready()
    from meterdesk.phone.prompts import prompts_render
    from meterdesk.phone.sip import Line
    from meterdesk.phone.speech import SpeechUnavailable, speech_check

    try:
        spoken = speech_check()
    except SpeechUnavailable as error:
        click.echo(f"Speech recognition cannot start: {error}", err=True)
        sys.exit(2)
    if spoken:
        click.echo(f"Speech is heard in: {', '.join(spoken)}.")
    click.echo(f"Rendered {prompts_render()} prompts.")
    line = Line(host=host, sip_port=sip_port, rtp_ports=rtp_ports, language=language, registrar=registrar)
    line.start()
    signal.signal(signal.SIGTERM, lambda *_: line.stop())
    signal.signal(signal.SIGINT, lambda *_: line.stop())
    click.echo(f"The phone line answers at sip:ivr@{host}:{sip_port} (RTP {rtp_ports[0]}-{rtp_ports[1]}).")
    line.run()


@ivr_group.command(help="Render the fixed prompts (Russian and English) into the cache.")
def prompts() -> None:
    _ready()
    from meterdesk.phone.prompts import prompts_render

    click.echo(f"{prompts_render()} prompts ready.")


@ivr_group.command(help="The calls of a period: callers, readings, questions, transfers, abandoned.")
@click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]), help="The last day, included.")
@click.option("--per-day", is_flag=True, help="Also the same figures for each day.")
def stats(start: datetime, end: datetime, per_day: bool) -> None:
    _ready()
    from meterdesk.phone.selectors import call_stats

    rows = call_stats(start.date(), end.date(), per_day=per_day)
    names = list(rows[0].as_dict())
    click.echo("  ".join(f"{n:>12}" for n in names))
    for row in rows:
        click.echo("  ".join(f"{v!s:>12}" for v in row.as_dict().values()))


@ivr_group.command(help="Serve Asterisk: a FastAGI server; dialplan AGI(agi://HOST:PORT/ivr).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=4573, show_default=True, type=click.IntRange(1, 65535))
@click.option("--language", default="ru", show_default=True, type=click.Choice(["ru", "en"]))
def agi(host: str, port: int, language: str) -> None:
    _ready()
    import asyncio

    from meterdesk.phone.agi import agi_serve
    from meterdesk.phone.prompts import prompts_render

    click.echo(f"Rendered {prompts_render()} prompts.")
    click.echo(f"FastAGI for Asterisk at agi://{host}:{port}/ivr.")
    asyncio.run(agi_serve(host, port, language))
