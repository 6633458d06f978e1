"""Endpoint signatures built from the declared parameters, so the API's parameter names, order and defaults come
from MotionControls and JobConfig instead of being typed out again (Gradio reads them from the signature)."""

from __future__ import annotations

import functools
import inspect
from typing import Callable, Iterable, Optional

from flap.parameters import Parameter


def with_parameters(after: str, declared: Iterable[Parameter]) -> Callable:
    """Decorator for ``fn(..., **values)``: its signature gets the declared parameters (name, default, type) spliced
    in right after the parameter ``after``; a call, positional (as Gradio makes it) or by keyword, is bound against
    that signature, and the declared values reach ``fn`` as keywords (only those given)."""
    declared = list(declared)

    def decorate(fn: Callable) -> Callable:
        own = inspect.signature(fn)
        names = {p.name for p in declared}
        spliced = []
        for q in own.parameters.values():
            if q.kind is inspect.Parameter.VAR_KEYWORD:
                continue
            spliced.append(q)
            if q.name == after:
                spliced += [inspect.Parameter(p.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=p.default,
                                              annotation=Optional[p.type] if p.optional else p.type) for p in declared]
        signature = own.replace(parameters=spliced)

        def split(args, kwargs) -> dict:
            given = signature.bind(*args, **kwargs).arguments
            return {**{k: v for k, v in given.items() if k not in names}, **{k: v for k, v in given.items() if k in names}}

        if inspect.isgeneratorfunction(fn):  # stays one, so that Gradio streams its results
            @functools.wraps(fn)
            def call(*args, **kwargs):
                yield from fn(**split(args, kwargs))
        else:
            @functools.wraps(fn)
            def call(*args, **kwargs):
                return fn(**split(args, kwargs))

        call.__signature__ = signature
        call.__annotations__ = {**{k: v for k, v in fn.__annotations__.items() if k != "values"},
                                **{q.name: q.annotation for q in spliced if q.name in names}}
        return call

    return decorate


def parameter_names(fn: Callable) -> list[str]:
    """The inputs of an endpoint in order (Gradio's own ``progress`` left out), to build its component list."""
    return [name for name in inspect.signature(fn).parameters if name != "progress"]
