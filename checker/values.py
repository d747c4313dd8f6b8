"""Python values of spec types: the encoding, printing, diffs and plain conversion.

Encoding (hashable, so whole states are dict keys):
  bool -> bool; ranges -> int; enum -> member name (str); record -> tuple of field values
  in declaration order; map -> tuple of values in key order (ir.domain); set -> frozenset;
  option -> None for `none`, a 1-tuple `(v,)` for `some(v)`.
In: a value and its `ir.Type`. Out: text (`show`), the leaves that differ between two
values (`diff`), plain Python data for models and ITF (`to_plain` / `from_plain`).
Deterministic: sets print sorted, maps in key order.
"""

from __future__ import annotations

from typing import Any

from checker import ir


def show(v: Any, t: ir.Type) -> str:
    match t:
        case ir.BoolType():
            return "true" if v else "false"
        case ir.IntType() | ir.RangeType():
            return str(v)
        case ir.EnumType():
            return str(v)
        case ir.RecordType(fields=fs):
            inner = ", ".join(f"{name}: {show(x, ft)}" for (name, ft), x in zip(fs, v, strict=True))
            return f"{t.name} {{ {inner} }}"
        case ir.MapType(key=k, value=vt):
            inner = ", ".join(f"{show(key, k)}: {show(x, vt)}" for key, x in zip(ir.domain(k), v, strict=True))
            return f"[{inner}]"
        case ir.SetType(elem=e):
            return "{" + ", ".join(sorted((show(x, e) for x in v), key=_natural)) + "}"
        case ir.OptionType(elem=e):
            return "none" if v is None else f"some({show(v[0], e)})"
    return repr(v)


def _natural(s: str) -> tuple[int, int | str]:
    return (0, int(s)) if s.lstrip("-").isdigit() else (1, s)


def leaves(v: Any, t: ir.Type, path: str) -> list[tuple[str, str]]:
    """Flatten a value into (path, text) leaves: maps by key, records by field."""
    match t:
        case ir.RecordType(fields=fs):
            out: list[tuple[str, str]] = []
            for (name, ft), x in zip(fs, v, strict=True):
                out.extend(leaves(x, ft, f"{path}.{name}"))
            return out
        case ir.MapType(key=k, value=vt):
            out = []
            for key, x in zip(ir.domain(k), v, strict=True):
                out.extend(leaves(x, vt, f"{path}[{show(key, k)}]"))
            return out
    return [(path, show(v, t))]


def diff(old: Any, new: Any, t: ir.Type, path: str) -> list[tuple[str, str, str]]:
    """The leaves that differ: (path, old text, new text), in key/field order."""
    if old == new:
        return []
    match t:
        case ir.RecordType(fields=fs):
            out: list[tuple[str, str, str]] = []
            for (name, ft), a, b in zip(fs, old, new, strict=True):
                out.extend(diff(a, b, ft, f"{path}.{name}"))
            return out
        case ir.MapType(key=k, value=vt):
            out = []
            for key, a, b in zip(ir.domain(k), old, new, strict=True):
                out.extend(diff(a, b, vt, f"{path}[{show(key, k)}]"))
            return out
    return [(path, show(old, t), show(new, t))]


def state_diff(spec: ir.Spec, old: tuple[Any, ...], new: tuple[Any, ...]) -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    for var, a, b in zip(spec.vars, old, new, strict=True):
        out.extend(diff(a, b, var.type, var.name))
    return out


def to_plain(v: Any, t: ir.Type) -> Any:
    """Plain Python data: records -> dict, maps -> dict, sets -> frozenset, options -> None | value."""
    match t:
        case ir.RecordType(fields=fs):
            return {name: to_plain(x, ft) for (name, ft), x in zip(fs, v, strict=True)}
        case ir.MapType(key=k, value=vt):
            return {key: to_plain(x, vt) for key, x in zip(ir.domain(k), v, strict=True)}
        case ir.SetType(elem=e):
            return frozenset(_hashable(to_plain(x, e)) for x in v)
        case ir.OptionType(elem=e):
            return None if v is None else to_plain(v[0], e)
    return v


def _hashable(x: Any) -> Any:
    if isinstance(x, dict):
        return tuple(sorted(x.items()))
    return x


def from_plain(x: Any, t: ir.Type) -> Any:
    """Inverse of to_plain (for replaying traces and reading models' observations)."""
    match t:
        case ir.RecordType(fields=fs):
            return tuple(from_plain(x[name], ft) for name, ft in fs)
        case ir.MapType(key=k, value=vt):
            return tuple(from_plain(x[key], vt) for key in ir.domain(k))
        case ir.SetType(elem=e):
            return frozenset(from_plain(y, e) for y in x)
        case ir.OptionType(elem=e):
            return None if x is None else (from_plain(x, e),)
        case ir.BoolType():
            return bool(x)
        case ir.IntType() | ir.RangeType():
            return int(x)
    return x


def state_to_plain(spec: ir.Spec, state: tuple[Any, ...], include_ghost: bool = True) -> dict[str, Any]:
    return {var.name: to_plain(v, var.type) for var, v in zip(spec.vars, state, strict=True)
            if include_ghost or not var.ghost}
