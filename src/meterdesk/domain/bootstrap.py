"""Build a meter's billing state from its reading history, for its first close in meterdesk
(after an import, or on a database that has readings but no closed months)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from meterdesk.domain.billing import MeterInfo, MeterState, Point, _keep_anchors
from meterdesk.domain.profiles import RulesProfile


def state_from_history(
    meter: MeterInfo, points: Sequence[tuple[date, tuple[Decimal, ...]]], profile: RulesProfile
) -> MeterState:
    """The state after the last of ``points`` (actual readings, one per month, chronological).

    Consumption between readings takes a rollover into account (a value below the previous one by
    more than half the meter's range); nothing is known of earlier estimates, so none is carried.
    """
    state = MeterState.initial(meter)
    capacity = meter.capacity
    for period, values in points:
        if period <= state.last.period and not state.last.installation:
            continue
        used = []
        for value, before in zip(values, state.raw, strict=True):
            delta = value - before
            if delta < 0 and -delta > capacity / 2:
                delta += capacity
            used.append(delta)
        last = Point(period, tuple(t + u for t, u in zip(state.last.totals, used, strict=True)))
        state = MeterState(
            raw=tuple(values),
            last=last,
            anchors=_keep_anchors((*state.anchors, state.last), last, profile),
            estimated=tuple(Decimal(0) for _ in values),
        )
    return state
