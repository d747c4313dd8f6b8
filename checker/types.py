"""Relations between IR types that the type checker and the engines share.

In: `ir.Type` values. Out: answers to "may a value of type S be stored where T is
expected" (`assignable`), "does that store need a run-time range check" (`needs_check`),
and the common type of two branches or operands (`join`). Pure functions, no state.
"""

from __future__ import annotations

from checker.ir import (
    ANY,
    INT,
    AnyType,
    BoolType,
    EnumType,
    IntType,
    MapType,
    OptionType,
    RangeType,
    RecordType,
    SetType,
    Type,
    is_intlike,
)


def same_domain(a: Type, b: Type) -> bool:
    """Two key types index the same positions (ranges by bounds, enums by name)."""
    if isinstance(a, AnyType) or isinstance(b, AnyType):
        return True
    if isinstance(a, RangeType) and isinstance(b, RangeType):
        return a.lo == b.lo and a.hi == b.hi
    return a == b


def assignable(target: Type, source: Type) -> bool:
    """May a value of `source` type stand where `target` is expected (ranges checked at run time)?"""
    if isinstance(target, AnyType) or isinstance(source, AnyType):
        return True
    if is_intlike(target) and is_intlike(source):
        return True
    match target, source:
        case BoolType(), BoolType():
            return True
        case EnumType(), EnumType():
            return target.name == source.name
        case RecordType(), RecordType():
            return target.name == source.name
        case MapType(), MapType():
            return same_domain(target.key, source.key) and assignable(target.value, source.value)
        case SetType(), SetType():
            return assignable(target.elem, source.elem)
        case OptionType(), OptionType():
            return assignable(target.elem, source.elem)
    return False


def needs_check(target: Type, source: Type) -> bool:
    """Could a value of `source` fall outside `target`? (Records are checked when built.)"""
    if isinstance(source, AnyType):
        return _has_range(target)
    match target:
        case RangeType():
            if isinstance(source, RangeType):
                return not (target.lo <= source.lo and source.hi <= target.hi)
            return True
        case MapType():
            return isinstance(source, MapType) and needs_check(target.value, source.value)
        case SetType():
            return isinstance(source, SetType) and needs_check(target.elem, source.elem)
        case OptionType():
            return isinstance(source, OptionType) and needs_check(target.elem, source.elem)
    return False


def _has_range(t: Type) -> bool:
    match t:
        case RangeType():
            return True
        case MapType():
            return _has_range(t.value)
        case SetType() | OptionType():
            return _has_range(t.elem)
    return False


def join(a: Type, b: Type) -> Type | None:
    """The type of `if c then A else B` / of `A == B` operands; None if incompatible."""
    if isinstance(a, AnyType):
        return b
    if isinstance(b, AnyType):
        return a
    if is_intlike(a) and is_intlike(b):
        if isinstance(a, RangeType) and isinstance(b, RangeType):
            lo, hi = min(a.lo, b.lo), max(a.hi, b.hi)
            if (lo, hi) == (a.lo, a.hi):
                return a
            if (lo, hi) == (b.lo, b.hi):
                return b
            return RangeType(lo, hi)
        return INT
    match a, b:
        case MapType(), MapType():
            if not same_domain(a.key, b.key):
                return None
            v = join(a.value, b.value)
            return MapType(a.key if not isinstance(a.key, AnyType) else b.key, v) if v else None
        case SetType(), SetType():
            e = join(a.elem, b.elem)
            return SetType(e) if e else None
        case OptionType(), OptionType():
            e = join(a.elem, b.elem)
            return OptionType(e) if e else None
    return a if assignable(a, b) and assignable(b, a) else None


def is_int_type(t: Type) -> bool:
    return isinstance(t, IntType | RangeType | AnyType)


__all__ = ["ANY", "assignable", "needs_check", "join", "same_domain", "is_int_type"]
