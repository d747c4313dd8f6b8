"""How wide a machine integer must be to hold every integer a spec can compute.

In: a checked `ir.Spec`. Out: `int_width(spec)`, the number of bits of a two's-complement
bit-vector that holds every integer value any expression of the spec takes on a
well-defined path (every literal, constant, range bound, enum index, and the result of
every `+ - *`, `count` and `sum` by interval arithmetic), or None when no width up to
`MAX_WIDTH` is certain (then the encoder uses unbounded z3 Ints).

Why: z3's SAT-based finite-domain solver (bit-blasting) decides the bounded problems of
BMC and induction several times faster than its arithmetic solver, but bit-vectors wrap
around where interp.py's Python ints do not. A width from this analysis makes the two
readings agree: no arithmetic on a well-defined path can overflow it.

Guarantees: sound intervals (each contains every value its node can take on a
well-defined path; a range-typed read is within its range there, as the domain
constraints and `Fits` checks make it); None rather than a guess when a value's origin is
not understood (an integer read out of a computed map, say).
"""

from __future__ import annotations

from collections.abc import Iterable

from checker import ir

MAX_WIDTH = 62  # beyond this, unbounded Ints are as fast as bit-vectors and safer

Interval = tuple[int, int]


class _Unknown(Exception):
    """An integer whose bounds the analysis cannot see."""


def _hull(a: Interval, b: Interval) -> Interval:
    return (min(a[0], b[0]), max(a[1], b[1]))


def _type_interval(t: ir.Type) -> Interval | None:
    match t:
        case ir.RangeType(lo=lo, hi=hi):
            return (lo, hi)
        case ir.EnumType(members=ms):
            return (0, max(len(ms) - 1, 0))
    return None


def _types(t: ir.Type) -> Iterable[ir.Type]:
    """t and every type nested in it."""
    yield t
    match t:
        case ir.RecordType(fields=fs):
            for _, ft in fs:
                yield from _types(ft)
        case ir.MapType(key=k, value=v):
            yield from _types(k)
            yield from _types(v)
        case ir.SetType(elem=e) | ir.OptionType(elem=e):
            yield from _types(e)


class _Analysis:
    def __init__(self, spec: ir.Spec) -> None:
        self.defs = {d.name: d for d in spec.defs}
        self.env: dict[str, Interval | None] = {}
        self.seen: list[Interval] = []
        self.calls: dict[tuple[str, tuple[Interval | None, ...]], Interval | None] = {}

    def note(self, iv: Interval | None) -> Interval | None:
        if iv is not None:
            self.seen.append(iv)
        return iv

    def typed(self, t: ir.Type) -> None:
        for u in _types(t):
            self.note(_type_interval(u))

    # ------------------------------------------------------------------ expressions
    def expr(self, e: ir.Expr) -> Interval | None:  # noqa: C901 - one case per node
        """The interval of an integer-valued node (None for other types); sub-expressions
        are analysed too, so that every integer computed anywhere is noted."""
        match e:
            case ir.Const(value=v, type=t):
                self.typed(t)
                if isinstance(v, bool) or not isinstance(v, int):
                    return _type_interval(t) if isinstance(t, ir.EnumType) else None
                return self.note((v, v))
            case ir.Var(type=t):
                return self.read(t)
            case ir.Local(slot=slot, type=t):
                if slot in self.env:
                    return self.env[slot]
                return self.read(t)
            case ir.Index(base=b, key=k, type=t):
                self.expr(k)
                inner = self.expr(b) if not isinstance(b, ir.Var | ir.Local) else None
                return self.read(t, inner)
            case ir.GetField(base=b, type=t):
                self.expr(b)
                return self.read(t)
            case ir.Unwrap(base=b, type=t):
                self.expr(b)
                return self.read(t)
            case ir.MakeSome(expr=x):
                self.expr(x)
                return None
            case ir.MakeRecord(fields=fs):
                for x in fs:
                    self.expr(x)
                return None
            case ir.WithFields(base=b, updates=ups):
                self.expr(b)
                for _, x in ups:
                    self.expr(x)
                return None
            case ir.MakeSet(elems=xs):
                for x in xs:
                    self.expr(x)
                return None
            case ir.Binary(op=op, left=a, right=b):
                ia, ib = self.expr(a), self.expr(b)
                if op in ("add", "sub", "mul"):
                    if ia is None or ib is None:
                        raise _Unknown(op)
                    if op == "add":
                        return self.note((ia[0] + ib[0], ia[1] + ib[1]))
                    if op == "sub":
                        return self.note((ia[0] - ib[1], ia[1] - ib[0]))
                    ps = [x * y for x in ia for y in ib]
                    return self.note((min(ps), max(ps)))
                return None
            case ir.Unary(op=op, arg=a):
                ia = self.expr(a)
                if op == "neg":
                    if ia is None:
                        raise _Unknown(op)
                    return self.note((-ia[1], -ia[0]))
                return None
            case ir.Ite(cond=c, then=a, other=b):
                self.expr(c)
                ia, ib = self.expr(a), self.expr(b)
                if ia is None or ib is None:
                    return ia or ib
                return self.note(_hull(ia, ib))
            case ir.Quant(kind=kind, slot=slot, domain=d, body=body):
                self.typed(d)
                self.env[slot] = _type_interval(d)
                ib = self.expr(body)
                n = ir.cardinality(d)
                self.note((n, n))
                if kind == "count":
                    return self.note((0, n))
                if kind == "sum":
                    if ib is None:
                        raise _Unknown(kind)
                    return self.note((min(0, n * ib[0]), max(0, n * ib[1])))
                return None
            case ir.Call(func=name, args=xs):
                args = tuple(self.expr(x) for x in xs)
                return self.call(name, args)
            case ir.Old(expr=x) | ir.Fits(expr=x):
                return self.expr(x)
        raise _Unknown(type(e).__name__)

    def read(self, t: ir.Type, inner: Interval | None = None) -> Interval | None:
        """A value read out of state, a parameter or a container: a range or enum is within
        its type on a well-defined path; any other integer must come from `inner`."""
        self.typed(t)
        iv = _type_interval(t)
        if iv is not None:
            return iv
        if isinstance(t, ir.IntType):
            if inner is None:
                raise _Unknown("an integer read from a container")
            return inner
        return None

    def call(self, name: str, args: tuple[Interval | None, ...]) -> Interval | None:
        key = (name, args)
        if key not in self.calls:
            d = self.defs[name]
            saved = {p.slot: self.env.get(p.slot) for p in d.params}
            for p, iv in zip(d.params, args, strict=True):
                self.typed(p.type)
                self.env[p.slot] = iv if iv is not None else _type_interval(p.type)
            self.typed(d.result)
            self.calls[key] = self.expr(d.body)
            for slot, iv in saved.items():
                self.env[slot] = iv
        return self.calls[key]

    # ------------------------------------------------------------------ statements
    def block(self, stmts: tuple[ir.Stmt, ...]) -> None:
        for s in stmts:
            match s:
                case ir.Assign(path=path, expr=x):
                    for p in path:
                        if isinstance(p, ir.PathIndex):
                            self.expr(p.key)
                            self.typed(p.map_type)
                    self.expr(x)
                case ir.Let(slot=slot, expr=x):
                    self.env[slot] = self.expr(x)
                case ir.Require(cond=c) | ir.Assert(cond=c):
                    self.expr(c)
                case ir.If(cond=c, then=a, other=b):
                    self.expr(c)
                    self.block(a)
                    self.block(b)
                case ir.For(slot=slot, domain=d, body=body):
                    self.typed(d)
                    self.env[slot] = _type_interval(d)
                    self.block(body)


def _bits(iv: Interval) -> int:
    """Two's-complement bits that hold every value of iv."""
    lo, hi = iv
    return max(hi.bit_length(), (-lo - 1).bit_length() if lo < 0 else 0) + 1


def int_width(spec: ir.Spec) -> int | None:
    """See the module docstring. The result has one bit of slack over the widest value."""
    an = _Analysis(spec)
    try:
        for v in spec.vars:
            an.typed(v.type)
        for a in spec.actions:
            for p in a.params:
                an.typed(p.type)
                an.env[p.slot] = _type_interval(p.type)
            an.block(a.body)
        for d in spec.defs:
            for p in d.params:
                an.typed(p.type)
            an.call(d.name, tuple(_type_interval(p.type) for p in d.params))
        for prop in spec.properties:
            if prop.expr is not None:
                an.expr(prop.expr)
    except _Unknown:
        return None
    an.note((len(spec.actions), len(spec.actions)))
    width = max([_bits(iv) for iv in an.seen] + [2]) + 1
    return width if width <= MAX_WIDTH else None


__all__ = ["MAX_WIDTH", "int_width"]
