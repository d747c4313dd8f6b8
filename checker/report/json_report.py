"""report.json: the whole report model as JSON, and back.

In: a `ReportModel`. Out: `render(model) -> str` (2-space indented, keys in field order,
one trailing newline) and `load(text) -> ReportModel`, its inverse:
`load(render(m)) == m`, so markdown, SARIF, JUnit and ITF can be regenerated from a saved
report.json alone. Layout: {"format": "tee-check-report", "format_version": 1, ...the
fields of ReportModel...}; dataclasses become objects with their field names, tuples
become arrays, states are plain JSON values (see model.plain).
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import fields, is_dataclass
from typing import Any

from checker.report.model import FORMAT_VERSION, ReportModel

FORMAT = "tee-check-report"


def render(model: ReportModel) -> str:
    doc = {"format": FORMAT, "format_version": FORMAT_VERSION, **_encode(model)}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def load(text: str) -> ReportModel:
    """The model saved by `render`. Raises ValueError for anything else."""
    doc = json.loads(text)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} file")
    if doc.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"unsupported {FORMAT} version {doc.get('format_version')!r} (expected {FORMAT_VERSION})")
    body = {k: v for k, v in doc.items() if k not in ("format", "format_version")}
    model = _decode(body, ReportModel)
    assert isinstance(model, ReportModel)
    return model


def _encode(x: Any) -> Any:
    if is_dataclass(x) and not isinstance(x, type):
        return {f.name: _encode(getattr(x, f.name)) for f in fields(x)}
    if isinstance(x, tuple | list):
        return [_encode(y) for y in x]
    if isinstance(x, dict):
        return {k: _encode(v) for k, v in x.items()}
    return x


def _decode(x: Any, tp: Any) -> Any:  # noqa: C901 - one case per kind of annotation
    if tp is Any:
        return x
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if x is None and type(None) in options:
            return None
        errors = []
        for o in options:
            if o is type(None):
                continue
            try:
                return _decode(x, o)
            except (TypeError, ValueError, KeyError) as err:
                errors.append(str(err))
        raise ValueError(f"no type of {tp} fits {x!r}: {errors}")
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(x, list):
            raise ValueError(f"expected an array for {tp}, got {x!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(y, args[0]) for y in x)
        if len(args) != len(x):
            raise ValueError(f"expected {len(args)} items for {tp}, got {x!r}")
        return tuple(_decode(y, a) for y, a in zip(x, args, strict=True))
    if origin is dict:
        if not isinstance(x, dict):
            raise ValueError(f"expected an object, got {x!r}")
        _, vt = typing.get_args(tp)
        return {k: _decode(v, vt) for k, v in x.items()}
    if isinstance(tp, type) and is_dataclass(tp):
        if not isinstance(x, dict):
            raise ValueError(f"expected an object for {tp.__name__}, got {x!r}")
        hints = typing.get_type_hints(tp)
        kwargs = {}
        for f in fields(tp):
            if f.name in x:
                kwargs[f.name] = _decode(x[f.name], hints[f.name])
        return tp(**kwargs)
    if tp is float:
        if isinstance(x, bool) or not isinstance(x, int | float):
            raise ValueError(f"expected a number, got {x!r}")
        return float(x)
    if tp in (int, str, bool):
        if not isinstance(x, tp) or (tp is int and isinstance(x, bool)):
            raise ValueError(f"expected {tp.__name__}, got {x!r}")
        return x
    raise TypeError(f"cannot decode {tp!r}")
