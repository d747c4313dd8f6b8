"""Checked IR: what typecheck.py produces and every later stage reads.

In: built only by typecheck.py from an ast.Spec that passed every check. Out: a `Spec`
whose names are resolved (state variables by index, locals by unique slot, defs by name,
enum members and consts folded to `Const`), every expression knows its `Type` and span,
and every range-typed store knows whether it needs a run-time range check. No lark, no z3.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import product
from typing import Any

from checker.source import NO_SPAN, Span


def _span() -> Span:
    span: Span = field(default=NO_SPAN, compare=False, repr=False)
    return span


# ----------------------------------------------------------------------------- types
@dataclass(frozen=True)
class BoolType:
    def __str__(self) -> str:
        return "bool"


@dataclass(frozen=True)
class IntType:
    """Unbounded integers: literals and arithmetic. Never the type of state."""

    def __str__(self) -> str:
        return "int"


@dataclass(frozen=True)
class RangeType:
    lo: int
    hi: int
    name: str | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return self.name or f"{self.lo} .. {self.hi}"


@dataclass(frozen=True)
class EnumType:
    name: str
    members: tuple[str, ...]

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class RecordType:
    name: str
    fields: tuple[tuple[str, Type], ...]

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class MapType:
    key: Type
    value: Type

    def __str__(self) -> str:
        k = f"({self.key})" if isinstance(self.key, MapType) else str(self.key)
        return f"{k} -> {self.value}"


@dataclass(frozen=True)
class SetType:
    elem: Type

    def __str__(self) -> str:
        return f"set {_paren(self.elem)}"


@dataclass(frozen=True)
class OptionType:
    elem: Type

    def __str__(self) -> str:
        return f"option {_paren(self.elem)}"


@dataclass(frozen=True)
class AnyType:
    """The element type of `none` and `{}` before context fixes it; also the type of an
    expression that already has an error (it unifies with everything, so one mistake is
    reported once)."""

    def __str__(self) -> str:
        return "?"


Type = BoolType | IntType | RangeType | EnumType | RecordType | MapType | SetType | OptionType | AnyType

BOOL = BoolType()
INT = IntType()
ANY = AnyType()


def _paren(t: Type) -> str:
    return f"({t})" if isinstance(t, MapType | SetType | OptionType) else str(t)


def is_intlike(t: Type) -> bool:
    return isinstance(t, IntType | RangeType)


def is_finite(t: Type) -> bool:
    match t:
        case BoolType() | RangeType() | EnumType():
            return True
        case IntType() | AnyType():
            return False
        case RecordType(fields=fs):
            return all(is_finite(ft) for _, ft in fs)
        case MapType(key=k, value=v):
            return is_key_type(k) and is_finite(v)
        case SetType(elem=e) | OptionType(elem=e):
            return is_finite(e)
    return False


def has_error(t: Type) -> bool:
    """Does the type contain `?` (a mistake already reported)?"""
    match t:
        case AnyType():
            return True
        case MapType(key=k, value=v):
            return has_error(k) or has_error(v)
        case SetType(elem=e) | OptionType(elem=e):
            return has_error(e)
        case RecordType(fields=fs):
            return any(has_error(ft) for _, ft in fs)
    return False


def is_key_type(t: Type) -> bool:
    """Map keys and set elements that index a map: bool, a range, an enum."""
    return isinstance(t, BoolType | RangeType | EnumType)


def domain(t: Type) -> tuple[Any, ...]:
    """Every value of a key type, in order (the order maps store their values in)."""
    match t:
        case BoolType():
            return (False, True)
        case RangeType(lo=lo, hi=hi):
            return tuple(range(lo, hi + 1))
        case EnumType(members=ms):
            return ms
    raise TypeError(f"{t} is not a key type")


def cardinality(t: Type) -> int:
    match t:
        case BoolType():
            return 2
        case RangeType(lo=lo, hi=hi):
            return hi - lo + 1
        case EnumType(members=ms):
            return len(ms)
        case RecordType(fields=fs):
            n = 1
            for _, ft in fs:
                n *= cardinality(ft)
            return n
        case MapType(key=k, value=v):
            return cardinality(v) ** cardinality(k)
        case SetType(elem=e):
            return 2 ** cardinality(e)
        case OptionType(elem=e):
            return 1 + cardinality(e)
    raise TypeError(f"{t} is not finite")


def all_values(t: Type) -> Iterator[Any]:
    """Every value of a finite type, in a fixed order (see values.py for the encoding)."""
    match t:
        case BoolType() | RangeType() | EnumType():
            yield from domain(t)
        case RecordType(fields=fs):
            for combo in product(*(tuple(all_values(ft)) for _, ft in fs)):
                yield tuple(combo)
        case MapType(key=k, value=v):
            vals = tuple(all_values(v))
            for combo in product(vals, repeat=len(domain(k))):
                yield tuple(combo)
        case SetType(elem=e):
            elems = tuple(all_values(e))
            for bits in range(2 ** len(elems)):
                yield frozenset(x for i, x in enumerate(elems) if bits >> i & 1)
        case OptionType(elem=e):
            yield None
            for x in all_values(e):
                yield (x,)
        case _:
            raise TypeError(f"{t} is not finite")


# ----------------------------------------------------------------------------- expressions
@dataclass(frozen=True)
class Const:
    value: Any
    type: Type
    span: Span = _span()


@dataclass(frozen=True)
class Var:
    index: int
    name: str
    type: Type
    span: Span = _span()


@dataclass(frozen=True)
class Local:
    slot: str  # unique within the spec
    name: str  # as written
    type: Type
    span: Span = _span()


@dataclass(frozen=True)
class Index:
    base: Expr
    key: Expr
    type: Type
    span: Span = _span()


@dataclass(frozen=True)
class GetField:
    base: Expr
    index: int
    name: str
    type: Type
    span: Span = _span()


@dataclass(frozen=True)
class Unwrap:
    base: Expr
    type: Type
    span: Span = _span()


@dataclass(frozen=True)
class MakeSome:
    expr: Expr
    type: Type
    span: Span = _span()


@dataclass(frozen=True)
class MakeRecord:
    fields: tuple[Expr, ...]  # in declaration order
    type: Type
    span: Span = _span()


@dataclass(frozen=True)
class WithFields:
    base: Expr
    updates: tuple[tuple[int, Expr], ...]
    type: Type
    span: Span = _span()


@dataclass(frozen=True)
class MakeSet:
    elems: tuple[Expr, ...]
    type: Type
    span: Span = _span()


@dataclass(frozen=True)
class Binary:
    """op: and or implies iff eq ne lt le gt ge add sub mul in union diff inter subset psubset"""

    op: str
    left: Expr
    right: Expr
    type: Type
    span: Span = _span()


@dataclass(frozen=True)
class Unary:
    op: str  # not neg
    arg: Expr
    type: Type
    span: Span = _span()


@dataclass(frozen=True)
class Ite:
    cond: Expr
    then: Expr
    other: Expr
    type: Type
    span: Span = _span()


@dataclass(frozen=True)
class Quant:
    """forall / exists / count over one local; `map` builds a total map (one local)."""

    kind: str
    slot: str
    name: str
    domain: Type
    body: Expr
    type: Type
    span: Span = _span()


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple[Expr, ...]
    type: Type
    span: Span = _span()


@dataclass(frozen=True)
class Old:
    expr: Expr
    type: Type
    span: Span = _span()


@dataclass(frozen=True)
class Fits:
    """`expr` stored into a place of type `type`: a run-time range check (well_defined)."""

    expr: Expr
    type: Type
    what: str  # "assignment to rmp[p].asid", "argument g of f", "result of f"
    span: Span = _span()


Expr = (
    Const | Var | Local | Index | GetField | Unwrap | MakeSome | MakeRecord | WithFields | MakeSet
    | Binary | Unary | Ite | Quant | Call | Old | Fits
)


# ----------------------------------------------------------------------------- statements
@dataclass(frozen=True)
class PathIndex:
    key: Expr
    map_type: MapType


@dataclass(frozen=True)
class PathField:
    index: int
    name: str


@dataclass(frozen=True)
class Assign:
    var: int
    name: str
    path: tuple[PathIndex | PathField, ...]
    expr: Expr  # already wrapped in Fits when a range check is needed
    span: Span = _span()


@dataclass(frozen=True)
class Let:
    slot: str
    name: str
    expr: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Require:
    cond: Expr
    code: str | None
    span: Span = _span()


@dataclass(frozen=True)
class If:
    cond: Expr
    then: tuple[Stmt, ...]
    other: tuple[Stmt, ...]
    span: Span = _span()


@dataclass(frozen=True)
class For:
    slot: str
    name: str
    domain: Type
    body: tuple[Stmt, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Assert:
    cond: Expr
    prop: str
    span: Span = _span()


Stmt = Assign | Let | Require | If | For | Assert


# ----------------------------------------------------------------------------- declarations
@dataclass(frozen=True)
class StateVar:
    name: str
    type: Type
    ghost: bool
    span: Span = _span()


@dataclass(frozen=True)
class Param:
    slot: str
    name: str
    type: Type
    span: Span = _span()


@dataclass(frozen=True)
class Def:
    name: str
    params: tuple[Param, ...]
    result: Type
    body: Expr  # wrapped in Fits when the result type is a range narrower than the body's
    span: Span = _span()


@dataclass(frozen=True)
class Actor:
    name: str
    param: int | None  # index into the action's params


@dataclass(frozen=True)
class Action:
    name: str
    params: tuple[Param, ...]
    actor: Actor | None
    body: tuple[Stmt, ...]
    codes: tuple[str, ...]  # every `require ... else CODE` code, sorted
    span: Span = _span()

    @property
    def actor_name(self) -> str:
        """The actor's name without its parameter; `env` for an action without `by`."""
        return "env" if self.actor is None else self.actor.name

    def actor_label(self, args: tuple[Any, ...]) -> str:
        if self.actor is None or self.actor.param is None:
            return self.actor_name
        return f"{self.actor.name}({args[self.actor.param]})"


@dataclass(frozen=True)
class Property:
    """An invariant, transition, cover or assert; `well_defined` is built in."""

    name: str
    kind: str  # invariant transition cover assert well_defined
    expr: Expr | None
    on: tuple[str, ...] | None = None  # transitions: restricted to these actions
    action: str | None = None  # asserts: the action (or "init") it stands in
    span: Span = _span()


@dataclass(frozen=True)
class Expect:
    name: str
    kind: str  # holds violated reachable unreachable
    within: int | None
    span: Span = _span()


@dataclass(frozen=True)
class Spec:
    name: str
    title: str | None
    path: str
    consts: tuple[tuple[str, int], ...]
    vars: tuple[StateVar, ...]
    defs: tuple[Def, ...]
    init: tuple[Stmt, ...]
    actions: tuple[Action, ...]
    properties: tuple[Property, ...]
    expects: tuple[Expect, ...]
    span: Span = _span()

    def var_index(self, name: str) -> int:
        for i, v in enumerate(self.vars):
            if v.name == name:
                return i
        raise KeyError(name)

    def action(self, name: str) -> Action:
        for a in self.actions:
            if a.name == name:
                return a
        raise KeyError(name)

    def property(self, name: str) -> Property:
        for p in self.properties:
            if p.name == name:
                return p
        raise KeyError(name)

    def def_(self, name: str) -> Def:
        for d in self.defs:
            if d.name == name:
                return d
        raise KeyError(name)
