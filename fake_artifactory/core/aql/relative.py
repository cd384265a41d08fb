"""AQL's relative time operators, ``$before`` and ``$last`` (pure).

``{"modified": {"$last": "3d"}}`` holds for items modified in the three days before the
query runs, ``{"created": {"$before": "2w"}}`` for items created up to two weeks before
it. A period is a whole number and a unit, spelled as JFrog's AQL documentation lists
them: ``mills``/``ms``, ``seconds``/``s``, ``minutes``, ``days``/``d``, ``weeks``/``w``,
``months``/``mo``, ``years``/``y``. Months and years are calendar ones (a day that the
earlier month lacks becomes its last day).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["RELATIVE_OPERATORS", "Period", "parse_period"]

#: The operators, and the absolute comparison each becomes once "now" is known.
RELATIVE_OPERATORS = {"$before": "$lt", "$last": "$gte"}

_UNITS = {
    "mills": "ms",
    "ms": "ms",
    "seconds": "s",
    "s": "s",
    "minutes": "minutes",
    "days": "d",
    "d": "d",
    "weeks": "w",
    "w": "w",
    "months": "mo",
    "mo": "mo",
    "years": "y",
    "y": "y",
}
_FIXED = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "minutes": timedelta(minutes=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
_PERIOD = re.compile(r"(\d{1,9})([a-z]+)")


@dataclass(frozen=True)
class Period:
    """``amount`` units (``unit`` one of ms, s, minutes, d, w, mo, y)."""

    amount: int
    unit: str

    def before(self, now: datetime) -> datetime:
        """The moment this period before ``now``."""
        if self.unit in _FIXED:
            return now - self.amount * _FIXED[self.unit]
        months = self.amount * (12 if self.unit == "y" else 1)
        index = now.year * 12 + now.month - 1 - months
        year, month = divmod(index, 12)
        if year < 1:
            return datetime.min.replace(tzinfo=now.tzinfo)
        day = min(now.day, calendar.monthrange(year, month + 1)[1])
        return now.replace(year=year, month=month + 1, day=day)


def parse_period(text: str) -> Period | None:
    """The period ``text`` spells (``"3d"``, ``"2weeks"``), or None."""
    match = _PERIOD.fullmatch(text.strip().lower())
    if match is None or match.group(2) not in _UNITS:
        return None
    return Period(int(match.group(1)), _UNITS[match.group(2)])
