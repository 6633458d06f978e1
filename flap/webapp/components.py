"""Gradio components built from the declared parameters (flap.parameters), so the page and the API show the same
ranges, defaults, labels and help as the CLI and validation."""

from __future__ import annotations

from typing import Any

import gradio as gr

from flap.parameters import Parameter, parameter


def slider(cls: type, name: str, **overrides: Any) -> gr.Slider:
    """A page slider over the declared range; a parameter whose default is None starts at its suggested value."""
    p = parameter(cls, name)
    lo, hi = p.spec.range
    value = p.default if p.default is not None else p.spec.suggested
    options = dict(minimum=lo, maximum=hi, value=value, step=p.spec.step or (1 if p.type is int else 0.05),
                   label=p.spec.label, info=p.spec.help or None, elem_id=name)
    return gr.Slider(**{**options, **overrides})


def choice(cls: type, name: str, words: dict[str, str] | None = None, kind=gr.Dropdown, **overrides: Any):
    """A dropdown (or radio) over the declared choices, each shown in ``words`` when given."""
    p = parameter(cls, name)
    choices = [(words.get(c, c), c) for c in p.spec.choices] if words else list(p.spec.choices)
    options = dict(choices=choices, value=p.default, label=p.spec.label, elem_id=name)
    return kind(**{**options, **overrides})


def checkbox(cls: type, name: str, **overrides: Any) -> gr.Checkbox:
    p = parameter(cls, name)
    return gr.Checkbox(**{**dict(value=bool(p.default), label=p.spec.label, info=p.spec.help or None), **overrides})


def api_input(p: Parameter):
    """The hidden input of a named API endpoint for one parameter: labelled with its name, at its default."""
    if p.type is bool:
        return gr.Checkbox(value=bool(p.default), label=p.name)
    if p.spec.choices is not None:
        return gr.Dropdown(list(p.spec.choices), value=p.default, label=p.name)
    if p.type in (int, float) and p.spec.parse is None:
        return gr.Number(value=p.default, precision=0 if p.type is int else None, label=p.name)
    return gr.Textbox(value=p.default or "", label=p.name)
