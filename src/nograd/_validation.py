"""Parameter constraints in the scikit-learn manner: one dict per class, one validator, one message template.

The 'sigma' parameter of HillClimb must be a float in (0, inf). Got -0.1 instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from nograd.errors import ConfigError

__all__ = ["Interval", "Options", "validate_params", "unknown_name_error", "check_unknown_keys"]


@dataclass(frozen=True)
class Interval:
    """A number in a range. ``closed`` is one of 'both', 'left', 'right', 'neither'."""

    kind: type  # int or float
    low: float | None
    high: float | None
    closed: str = "both"
    allow_none: bool = False

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.allow_none
        if isinstance(value, bool):
            return False
        if self.kind is int and not isinstance(value, int):
            return False
        if self.kind is float and not isinstance(value, int | float):
            return False
        if isinstance(value, float) and math.isnan(value):
            return False
        low_ok = self.low is None or (value >= self.low if self.closed in ("both", "left") else value > self.low)
        high_ok = self.high is None or (value <= self.high if self.closed in ("both", "right") else value < self.high)
        return low_ok and high_ok

    def __str__(self) -> str:
        left = "[" if self.closed in ("both", "left") and self.low is not None else "("
        right = "]" if self.closed in ("both", "right") and self.high is not None else ")"
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        text = f"{'an int' if self.kind is int else 'a float'} in {left}{low}, {high}{right}"
        return text + (" or None" if self.allow_none else "")


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values."""

    values: tuple[Any, ...]

    def accepts(self, value: Any) -> bool:
        return value in self.values

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


def validate_params(owner: str, params: Mapping[str, Any], constraints: Mapping[str, Any]) -> None:
    """Raise ConfigError for the first value in ``params`` that its constraint refuses."""
    for name, constraint in constraints.items():
        if name not in params:
            continue
        value = params[name]
        if constraint == "boolean":
            ok, text = isinstance(value, bool), "a bool"
        else:
            ok, text = constraint.accepts(value), str(constraint)
        if not ok:
            raise ConfigError(f"The '{name}' parameter of {owner} must be {text}. Got {value!r} instead.")


def unknown_name_error(kind: str, name: str, valid: Iterable[str]) -> ConfigError:
    return ConfigError(f"Unknown {kind} '{name}'. Valid {kind}s: {', '.join(sorted(valid))}.")


def check_unknown_keys(owner: str, given: Iterable[str], valid: Iterable[str]) -> None:
    valid = sorted(valid)
    for key in given:
        if key not in valid:
            raise ConfigError(f"Unknown option '{key}' for {owner}. Valid options: {', '.join(valid) or 'none'}.")
