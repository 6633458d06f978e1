"""User parameters declared once, on frozen dataclass fields, so the CLI, the page, the API and validation agree.

A field made with ``declare(default, label=..., help=..., range=... | choices=...)`` carries a ``Spec`` in its
metadata; ``specs(cls)`` lists them with their types and defaults, ``checked(obj)`` returns a validated copy (never
the caller's object), and the builders in flap.cli and flap.webapp.components turn the same specs into argparse
options and Gradio components.  This module knows nothing of argparse or Gradio.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass
from typing import Any, Callable

from flap.errors import ControlRangeError

_KEY = "flap.parameter"


@dataclass(frozen=True)
class Spec:
    """What a user sees of one parameter: its page label, help, allowed values and slider step."""

    label: str
    help: str = ""
    range: tuple[float, float] | None = None
    choices: tuple[str, ...] | None = None
    step: float | None = None
    parse: Callable[[Any], Any] | None = None  # own parser (e.g. gaze): returns the checked value or raises
    suggested: float | None = None  # a page slider's value when the default is None (e.g. 15 blinks/min)


@dataclass(frozen=True)
class Parameter:
    """A declared field: its name, base type (float, int, str or bool), default, whether None is allowed, spec."""

    name: str
    type: type
    default: Any
    optional: bool
    spec: Spec

    @property
    def flag(self) -> str:
        """The CLI option: ``--motion-scale`` for ``motion_scale``."""
        return "--" + self.name.replace("_", "-")

    def describe(self) -> str:
        """The help text with the allowed values, as the CLI and the page show it."""
        s = self.spec
        if s.range is not None:
            return f"{s.help} ({s.range[0]:g}..{s.range[1]:g})".strip()
        return s.help

    def check(self, value: Any) -> Any:
        """The value as this parameter's type, or a ControlRangeError that names it and what is allowed."""
        s = self.spec
        if s.parse is not None:
            return s.parse(value)
        if value is None or (isinstance(value, str) and not value.strip() and self.type is not str):
            if self.optional:
                return None
            if s.range is not None:
                raise ControlRangeError(f"{self.name} must be a number between {s.range[0]:g} and {s.range[1]:g}; got nothing")
            raise ControlRangeError(f"{self.name} must be given")
        if self.type is bool:
            return _boolean(self.name, value)
        if s.choices is not None:
            text = str(value).strip().lower()
            if text not in s.choices:
                raise ControlRangeError(f"{self.name} must be one of {', '.join(s.choices)}; got '{value}'")
            return text
        if self.type is str:
            return str(value)
        return self._number(value)

    def _number(self, value: Any) -> float | int:
        s = self.spec
        try:
            number = float(value)
        except (TypeError, ValueError):
            allowed = f" between {s.range[0]:g} and {s.range[1]:g}" if s.range else ""
            raise ControlRangeError(f"{self.name} must be a number{allowed}; got {value!r}") from None
        if s.range is not None:
            lo, hi = s.range
            if not math.isfinite(number) or not lo <= number <= hi:
                raise ControlRangeError(f"{self.name} must be between {lo:g} and {hi:g}; got {number:g}")
        elif not math.isfinite(number):
            raise ControlRangeError(f"{self.name} must be a finite number; got {value!r}")
        if self.type is int:
            if number != int(number):
                raise ControlRangeError(f"{self.name} must be a whole number; got {value!r}")
            return int(number)
        return number


def declare(default: Any, *, label: str, help: str = "", range: tuple[float, float] | None = None,
            choices: tuple[str, ...] | None = None, step: float | None = None, parse: Callable[[Any], Any] | None = None,
            suggested: float | None = None) -> Any:
    """A dataclass field carrying its user-facing declaration."""
    spec = Spec(label=label, help=help, range=range, choices=tuple(choices) if choices is not None else None, step=step,
                parse=parse, suggested=suggested)
    return dataclasses.field(default=default, metadata={_KEY: spec})


def same_as(cls: type, name: str) -> Any:
    """A field with another class's declaration and default (e.g. JobConfig.steps is the full model's steps)."""
    f = {f.name: f for f in dataclasses.fields(cls)}[name]
    return dataclasses.field(default=f.default, metadata=f.metadata)


def specs(cls: type) -> dict[str, Parameter]:
    """The declared parameters of a dataclass (or an instance), in field order."""
    cls = cls if isinstance(cls, type) else type(cls)
    return _specs(cls)


def _specs(cls: type) -> dict[str, Parameter]:
    cached = cls.__dict__.get("_flap_specs")
    if cached is not None:
        return cached
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        if _KEY not in f.metadata:
            continue
        base, optional = _base_type(hints[f.name])
        out[f.name] = Parameter(f.name, base, f.default, optional, f.metadata[_KEY])
    type.__setattr__(cls, "_flap_specs", out)
    return out


def parameter(cls: type, name: str) -> Parameter:
    return specs(cls)[name]


def checked(obj: Any) -> Any:
    """A copy of a frozen dataclass with every declared field checked and converted; ``obj`` is left as it was."""
    return dataclasses.replace(obj, **{name: p.check(getattr(obj, name)) for name, p in specs(obj).items()})


def from_values(cls: type, values: dict[str, Any], **fixed: Any) -> Any:
    """``cls`` built from user values (API, page or CLI) for its declared fields, missing ones at their defaults;
    ``fixed`` fields are passed as they are.  Returns the checked object."""
    known = specs(cls)
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ControlRangeError(f"unknown parameter(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return checked(cls(**{name: values[name] for name in known if name in values}, **fixed))


def _base_type(hint: Any) -> tuple[type, bool]:
    """(float, True) for ``float | None``; the gaze's union counts as text."""
    args = typing.get_args(hint)
    optional = type(None) in args
    if args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1 and isinstance(rest[0], type):
            return rest[0], optional
        return str, optional
    return (hint if isinstance(hint, type) else str), optional


def _boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ControlRangeError(f"{name} must be true or false; got {value!r}")
