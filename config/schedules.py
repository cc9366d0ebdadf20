"""EventBridge schedule expressions, checked field by field before any rule is created.

The grammar is EventBridge's for scheduled rules (EventBridge User Guide, "Setting a schedule
pattern for scheduled rules"):
- rate(value unit): a positive whole value; the unit minute, hour or day when the value is 1,
  minutes, hours or days when it is more.
- cron(Minutes Hours Day-of-month Month Day-of-week Year): Minutes 0-59, Hours 0-23,
  Day-of-month 1-31, Month 1-12 or JAN-DEC, Day-of-week 1-7 or SUN-SAT, Year 1970-2199; the
  wildcards , - * / everywhere, ? L W in Day-of-month, ? L # in Day-of-week; "you can't
  specify the Day-of-month and Day-of-week fields in the same cron expression": one is ?; with
  '#' the Day-of-week field holds one expression only ("3#1,6#3" is not valid).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_RATE = re.compile(r"rate\((?P<value>\d+) (?P<unit>minute|minutes|hour|hours|day|days)\)")
_CRON = re.compile(r"cron\((?P<fields>[^()]*)\)")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()

    def value(self, token: str) -> int | None:
        if token.isdigit():
            number = int(token)
            return number if self.low <= number <= self.high else None
        if token.upper() in self.names:
            return self.names.index(token.upper()) + self.low
        return None


_FIELDS = (
    _Field("Minutes", 0, 59),
    _Field("Hours", 0, 23),
    _Field("Day-of-month", 1, 31),
    _Field("Month", 1, 12, _MONTHS),
    _Field("Day-of-week", 1, 7, _DAYS),
    _Field("Year", 1970, 2199),
)
_DAY_OF_MONTH, _DAY_OF_WEEK = 2, 4


def _item_ok(index: int, item: str) -> bool:
    """One comma-separated part of a cron field: *, a value or a range, with an optional /step."""
    field = _FIELDS[index]
    if index == _DAY_OF_MONTH and re.fullmatch(r"L|LW|\d{1,2}W", item):
        return item in ("L", "LW") or field.value(item[:-1]) is not None
    if index == _DAY_OF_WEEK:
        special = re.fullmatch(r"(?P<day>\w+)(?:#(?P<nth>[1-5])|L)", item)
        if item == "L" or (special and field.value(special["day"]) is not None):
            return True
    base, _, step = item.partition("/")
    if step and not (step.isdigit() and int(step) > 0):
        return False
    if base == "*":
        return True
    low, _, high = base.partition("-")
    first, last = field.value(low), field.value(high) if high else None
    return first is not None and (not high or (last is not None and last >= first))


def schedule_problem(expression: str) -> str | None:
    """What is wrong with an EventBridge schedule expression, or None when EventBridge accepts it."""
    rate = _RATE.fullmatch(expression)
    if rate:
        return _rate_problem(int(rate["value"]), rate["unit"])
    cron = _CRON.fullmatch(expression)
    if not cron:
        return "rate(N minutes|hours|days), or cron() with six fields"
    return _cron_problem(cron["fields"].split())


def _rate_problem(value: int, unit: str) -> str | None:
    if value == 0:
        return "a rate whose value is at least 1"
    if (value == 1) != (not unit.endswith("s")):
        singular = unit.rstrip("s")
        return f"rate(1 {singular}), or rate(N {singular}s) for N above 1: the unit is singular only for 1"
    return None


def _cron_problem(fields: list[str]) -> str | None:
    if len(fields) != len(_FIELDS):
        return f"cron() with six fields (Minutes Hours Day-of-month Month Day-of-week Year), not {len(fields)}"
    for index, text in enumerate(fields):
        problem = _field_problem(index, text)
        if problem:
            return problem
    if (fields[_DAY_OF_MONTH] == "?") == (fields[_DAY_OF_WEEK] == "?"):
        return "a cron expression with '?' in exactly one of Day-of-month and Day-of-week"
    return None


def _field_problem(index: int, text: str) -> str | None:
    """What is wrong with one of a cron expression's six fields, or None."""
    field = _FIELDS[index]
    if text == "?":
        if index in (_DAY_OF_MONTH, _DAY_OF_WEEK):
            return None
        return f"'?' only in Day-of-month or Day-of-week, not in {field.name}"
    if index == _DAY_OF_WEEK and "#" in text and "," in text:
        return f"one expression in the cron Day-of-week field when it uses '#', not {text!r}"
    if all(_item_ok(index, item) for item in text.split(",")):
        return None
    names = f" or {field.names[0]}-{field.names[-1]}" if field.names else ""
    return f"a cron {field.name} field of {field.low}-{field.high}{names} with EventBridge's wildcards, not {text!r}"
