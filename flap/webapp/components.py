"""Gradio components built from the declared parameters (flap.parameters), so the page and the API show the same
ranges, defaults, labels and help as the CLI and validation."""

from __future__ import annotations

from typing import Any

import gradio as gr

from flap.motion.controls import GAZE_PRESETS, MotionControls
from flap.parameters import Parameter, parameter

GAZE_CHOICES = ([("natural (follows the motion)", "natural"), ("at the camera", "camera")]
                + [(name, name) for name in GAZE_PRESETS])


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


def control_inputs(prefix: str = "") -> dict:
    """The motion controls, with the CLI's defaults, ranges and help (all from MotionControls), in compact rows;
    ``prefix`` starts their elem_ids (a second set on another tab)."""
    c = {}
    with gr.Row():
        for name in ("yaw", "pitch", "roll"):
            c[name] = slider(MotionControls, name, elem_id=prefix + name)
    with gr.Row():
        for name in ("motion_scale", "mouth", "expression"):
            c[name] = slider(MotionControls, name, elem_id=prefix + name)
    with gr.Row():
        c["emotion"] = choice(MotionControls, "emotion", elem_id=prefix + "emotion")
        c["emotion_strength"] = slider(MotionControls, "emotion_strength", elem_id=prefix + "emotion_strength")
    with gr.Row():
        c["natural_blinks"] = gr.Checkbox(value=True, label="Natural blinks", info="Blink in the speech's pauses")
        c["blink_rate"] = slider(MotionControls, "blink_rate", info="Moving it turns natural blinks off",
                                 elem_id=prefix + "blink_rate")
        gaze = parameter(MotionControls, "gaze")
        c["gaze"] = gr.Dropdown(GAZE_CHOICES, value="natural", allow_custom_value=True, label=gaze.spec.label,
                                info="Or 'yaw,pitch' degrees, e.g. 10,-5", elem_id=f"{prefix}gaze")
    return c
