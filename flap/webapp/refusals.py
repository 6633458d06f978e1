"""The project's own message for inputs that Gradio refuses before a handler runs.

Gradio checks and converts inputs (``Blocks.preprocess_data``) before calling the handler, and without
``show_error`` its errors reach the page as "The upstream Gradio app has raised an exception" and a raw API
client as ``{"error": null}``.  ``FlapBlocks`` turns the refusals that users meet into ``gr.Error`` with a message
that says what to do: a file that is not an image given as the portrait, and a server-side path instead of an
upload.  Anything else is left to Gradio.
"""

from __future__ import annotations

import logging
import re

import gradio as gr
from gradio.exceptions import ComponentProcessingError, InvalidPathError

from flap.io.images import unreadable_image_message

log = logging.getLogger("flap.webapp")

PATH_REFUSED = ("A file was named by a path on the server instead of being uploaded; FLAP only reads files sent with "
                "the request. Upload it (from Python: gradio_client.handle_file(path)).")


def _input_label(block_fn, error: Exception) -> str:
    match = re.search(r"at index (\d+)", str(error))
    try:
        return str(block_fn.inputs[int(match.group(1))].label or "input") if match else "input"
    except (IndexError, AttributeError):
        return "input"


def refusal_message(block_fn, error: Exception) -> str | None:
    """The message for an input refusal, or None when it is not one the project words itself."""
    if isinstance(error, InvalidPathError):
        return PATH_REFUSED
    if isinstance(error, ComponentProcessingError):
        label = _input_label(block_fn, error)
        cause = error.__cause__
        if label.lower() == "portrait" or "image" in type(cause).__name__.lower():
            return unreadable_image_message(f"The {label.lower()}")
        return f"The {label.lower()} could not be read ({type(cause).__name__}); check the file and send it again."
    return None


class FlapBlocks(gr.Blocks):
    """gr.Blocks whose input refusals carry the project's messages (page, API and gradio_client alike)."""

    async def preprocess_data(self, block_fn, inputs, state, explicit_call: bool = False):
        try:
            return await super().preprocess_data(block_fn, inputs, state, explicit_call)
        except (InvalidPathError, ComponentProcessingError) as exc:
            message = refusal_message(block_fn, exc)
            if message is None:
                raise
            log.info("input refused: %s", exc)
            raise gr.Error(message, title="Could not use the input", print_exception=False) from None
