"""ir -> z3: the symbolic reading of a checked spec, built to agree with interp.py.

In: an `ir.Spec`. Out: `StepEncoding`, one step of the spec as a quantifier-free formula
over template constants (pre-state leaves, post-state leaves, an action selector, an
outcome code and per-action parameters), plus per-property formulas and well-definedness
obligations. Engines instantiate the template per step with `instantiate` (z3.substitute)
instead of re-walking the IR, and decode traces from the table of per-step constants
(`decode`), never from solver names.

Symbolic values mirror values.py: one z3 constant per leaf (bool -> Bool, ranges and enum
indices -> a two's-complement bit-vector of the spec's width from bounds.py, or an
unbounded Int when the encoding is built with width None; with domain constraints), records and maps are tuples, options are `SOpt`
(present, value), sets are `SSet` lists of (guard, element). Well-definedness: every place
interp.py raises WellDefinedError adds (path condition and failure, span, message) to the
obligations, with the same short-circuit guards (`and`, `or`, `implies`, `if`, and the
first-false stop of `forall` / first-true stop of `exists`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import z3

from checker import ir
from checker.source import Span
from checker.types import join

TRUE = z3.BoolVal(True)
FALSE = z3.BoolVal(False)


# ----------------------------------------------------------------------------- symbolic values
@dataclass(frozen=True)
class SOpt:
    present: Any  # z3 BoolRef
    value: Any  # a symbolic value, or None for the literal `none`


@dataclass(frozen=True)
class SSet:
    elems: tuple[tuple[Any, Any], ...]  # (guard, element): the element is in the set if guard


Sym = Any


def _and(*xs: Any) -> Any:
    ys = [x for x in xs if not z3.is_true(x)]
    if any(z3.is_false(x) for x in ys):
        return FALSE
    if not ys:
        return TRUE
    return ys[0] if len(ys) == 1 else z3.And(*ys)


def _or(*xs: Any) -> Any:
    ys = [x for x in xs if not z3.is_false(x)]
    if any(z3.is_true(x) for x in ys):
        return TRUE
    if not ys:
        return FALSE
    return ys[0] if len(ys) == 1 else z3.Or(*ys)


def _not(x: Any) -> Any:
    if z3.is_true(x):
        return FALSE
    if z3.is_false(x):
        return TRUE
    return z3.Not(x)


def num(v: int, width: int | None) -> Any:
    """The integer literal v: a bit-vector of `width` bits, or an Int when width is None."""
    return z3.IntVal(v) if width is None else z3.BitVecVal(v, width)


def concrete(x: Any) -> Any:
    """A Python value when x is a z3 literal, else None."""
    if z3.is_int_value(x):
        return x.as_long()
    if z3.is_bv_value(x):
        return x.as_signed_long()
    if z3.is_true(x):
        return True
    if z3.is_false(x):
        return False
    return None


def lift(v: Any, t: ir.Type, width: int | None) -> Sym:
    """A concrete value (values.py encoding) as a symbolic value of type t; integers as
    `num(., width)`."""
    match t:
        case ir.BoolType():
            return z3.BoolVal(bool(v))
        case ir.IntType() | ir.RangeType():
            return num(v, width)
        case ir.EnumType(members=ms):
            return num(ms.index(v), width)
        case ir.RecordType(fields=fs):
            return tuple(lift(x, ft, width) for (_, ft), x in zip(fs, v, strict=True))
        case ir.MapType(value=vt):
            return tuple(lift(x, vt, width) for x in v)
        case ir.SetType(elem=e):
            return SSet(tuple((TRUE, lift(x, e, width)) for x in sorted(v, key=repr)))
        case ir.OptionType(elem=e):
            return SOpt(FALSE, None) if v is None else SOpt(TRUE, lift(v[0], e, width))
    raise TypeError(f"cannot lift a value of type {t}")


def eq(a: Sym, b: Sym, t: ir.Type) -> Any:
    match t:
        case ir.RecordType(fields=fs):
            return _and(*(eq(x, y, ft) for (_, ft), x, y in zip(fs, a, b, strict=True)))
        case ir.MapType(value=vt):
            return _and(*(eq(x, y, vt) for x, y in zip(a, b, strict=True)))
        case ir.OptionType(elem=e):
            # a value of None marks an option that is `none` on every path
            if a.value is None and b.value is None:
                return TRUE
            if a.value is None:
                return _not(b.present)
            if b.value is None:
                return _not(a.present)
            return _and(a.present == b.present, z3.Implies(a.present, eq(a.value, b.value, e)))
        case ir.SetType(elem=e):
            return _and(subset(a, b, e), subset(b, a, e))
    ka, kb = concrete(a), concrete(b)
    if ka is not None and kb is not None:
        return TRUE if ka == kb else FALSE
    return a == b


def _key(x: Sym) -> Any:
    """A hashable Python value when the symbolic value x is a literal, else None."""
    if isinstance(x, tuple):
        ks = tuple(_key(y) for y in x)
        return None if any(k is None for k in ks) else ks
    if isinstance(x, SSet | SOpt):
        return None
    return concrete(x)


_UNIVERSE_MAX = 64
_universes: dict[tuple[ir.Type, int | None], tuple[tuple[Any, Sym], ...] | None] = {}


def _universe(elem: ir.Type, width: int | None) -> tuple[tuple[Any, Sym], ...] | None:
    """(key, literal) for every value of a small finite element type, else None."""
    if (elem, width) not in _universes:
        try:
            vals: list[tuple[Any, Sym]] = []
            for v in ir.all_values(elem):
                if len(vals) == _UNIVERSE_MAX:
                    raise OverflowError
                lit = lift(v, elem, width)
                vals.append((_key(lit), lit))
            ok = all(k is not None for k, _ in vals)
            _universes[elem, width] = tuple(vals) if ok else None
        except (OverflowError, TypeError):
            _universes[elem, width] = None
    return _universes[elem, width]


def canon(s: SSet, elem: ir.Type, width: int | None) -> SSet:
    """s with exactly one (guard, literal) per value of a small element type, in the
    universe's order (the form state leaves have), so that `ite` and `union` keep sets
    at a fixed size instead of concatenating element lists; unchanged otherwise."""
    uni = _universe(elem, width)
    if uni is None:
        return s
    if len(s.elems) == len(uni) and all(_key(x) == k for (_, x), (k, _) in zip(s.elems, uni, strict=True)):
        return s
    return SSet(tuple((member(lit, s, elem), lit) for _, lit in uni))


def member(x: Sym, s: SSet, elem: ir.Type) -> Any:
    kx = _key(x)
    terms = []
    for g, y in s.elems:
        ky = _key(y) if kx is not None else None
        if ky is not None:
            if ky == kx:
                terms.append(g)
        else:
            terms.append(_and(g, eq(x, y, elem)))
    return _or(*terms)


def subset(a: SSet, b: SSet, elem: ir.Type) -> Any:
    return _and(*(z3.Implies(g, member(x, b, elem)) if not z3.is_true(g) else member(x, b, elem)
                  for g, x in a.elems))


def union(a: SSet, b: SSet, elem: ir.Type, width: int | None) -> SSet:
    if _universe(elem, width) is None:
        return SSet(a.elems + b.elems)
    ca, cb = canon(a, elem, width), canon(b, elem, width)
    return SSet(tuple((_or(ga, gb), x) for (ga, x), (gb, _) in zip(ca.elems, cb.elems, strict=True)))


def ite(c: Any, a: Sym, b: Sym, t: ir.Type, width: int | None) -> Sym:
    if z3.is_true(c):
        return a
    if z3.is_false(c):
        return b
    if a is b:
        return a
    match t:
        case ir.RecordType(fields=fs):
            return tuple(ite(c, x, y, ft, width) for (_, ft), x, y in zip(fs, a, b, strict=True))
        case ir.MapType(value=vt):
            return tuple(ite(c, x, y, vt, width) for x, y in zip(a, b, strict=True))
        case ir.OptionType(elem=e):
            if a.value is None:
                return SOpt(z3.If(c, a.present, b.present), b.value)
            if b.value is None:
                return SOpt(z3.If(c, a.present, b.present), a.value)
            return SOpt(z3.If(c, a.present, b.present), ite(c, a.value, b.value, e, width))
        case ir.SetType(elem=e):
            if _universe(e, width) is not None:
                ca, cb = canon(a, e, width), canon(b, e, width)
                return SSet(tuple((ga if ga is gb else z3.If(c, ga, gb), x)
                                  for (ga, x), (gb, _) in zip(ca.elems, cb.elems, strict=True)))
            return SSet(tuple((_and(c, g), x) for g, x in a.elems)
                        + tuple((_and(_not(c), g), x) for g, x in b.elems))
    return z3.If(c, a, b)


def conforms(v: Sym, t: ir.Type) -> Any:
    """v lies inside the ranges of t (the run-time check of ir.Fits)."""
    match t:
        case ir.RangeType(lo=lo, hi=hi):
            c = concrete(v)
            if c is not None:
                return z3.BoolVal(lo <= c <= hi)
            return z3.And(v >= lo, v <= hi)
        case ir.RecordType(fields=fs):
            return _and(*(conforms(x, ft) for (_, ft), x in zip(fs, v, strict=True)))
        case ir.MapType(value=vt):
            return _and(*(conforms(x, vt) for x in v))
        case ir.SetType(elem=e):
            return _and(*(z3.Implies(g, conforms(x, e)) for g, x in v.elems))
        case ir.OptionType(elem=e):
            if v.value is None:
                return TRUE
            return z3.Implies(v.present, conforms(v.value, e))
    return TRUE


def key_in_domain(k: Sym, t: ir.Type) -> Any:
    match t:
        case ir.RangeType(lo=lo, hi=hi):
            c = concrete(k)
            if c is not None:
                return z3.BoolVal(lo <= c <= hi)
            return z3.And(k >= lo, k <= hi)
    return TRUE


def default(t: ir.Type, width: int | None) -> Sym:
    """Some value of type t (what an ill-defined expression evaluates to symbolically)."""
    match t:
        case ir.BoolType():
            return FALSE
        case ir.IntType() | ir.AnyType():
            return num(0, width)
        case ir.RangeType(lo=lo):
            return num(lo, width)
        case ir.EnumType():
            return num(0, width)
        case ir.RecordType(fields=fs):
            return tuple(default(ft, width) for _, ft in fs)
        case ir.MapType(key=k, value=vt):
            return tuple(default(vt, width) for _ in ir.domain(k))
        case ir.SetType():
            return SSet(())
        case ir.OptionType():
            return SOpt(FALSE, None)
    raise TypeError(t)


class Leaves:
    """Fresh constants with their domain constraints, in creation order; integers are
    bit-vectors of `width` bits (Ints when width is None)."""

    def __init__(self, width: int | None) -> None:
        self.width = width
        self.consts: list[Any] = []
        self.domain: list[Any] = []

    def _int(self, name: str) -> Any:
        return z3.Int(name) if self.width is None else z3.BitVec(name, self.width)

    def fresh(self, t: ir.Type, name: str) -> Sym:
        match t:
            case ir.BoolType():
                c = z3.Bool(name)
                self.consts.append(c)
                return c
            case ir.RangeType(lo=lo, hi=hi):
                c = self._int(name)
                self.consts.append(c)
                self.domain.append(z3.And(c >= lo, c <= hi))
                return c
            case ir.EnumType(members=ms):
                c = self._int(name)
                self.consts.append(c)
                self.domain.append(z3.And(c >= 0, c < len(ms)))
                return c
            case ir.RecordType(fields=fs):
                return tuple(self.fresh(ft, f"{name}.{fname}") for fname, ft in fs)
            case ir.MapType(key=k, value=vt):
                return tuple(self.fresh(vt, f"{name}[{key}]") for key in ir.domain(k))
            case ir.SetType(elem=e):
                universe = tuple(ir.all_values(e))
                return SSet(tuple((self.fresh(ir.BOOL, f"{name}{{{u}}}"), lift(u, e, self.width)) for u in universe))
            case ir.OptionType(elem=e):
                present = self.fresh(ir.BOOL, f"{name}?")
                return SOpt(present, self.fresh(e, f"{name}!"))
        raise TypeError(f"no state leaves for type {t}")


def decode(v: Sym, t: ir.Type, model: z3.ModelRef) -> Any:
    """A symbolic value read back from a model, in values.py's encoding."""
    match t:
        case ir.BoolType():
            return z3.is_true(model.eval(v, model_completion=True))
        case ir.IntType() | ir.RangeType():
            return _int_of(model.eval(v, model_completion=True))
        case ir.EnumType(members=ms):
            return ms[_int_of(model.eval(v, model_completion=True))]
        case ir.RecordType(fields=fs):
            return tuple(decode(x, ft, model) for (_, ft), x in zip(fs, v, strict=True))
        case ir.MapType(value=vt):
            return tuple(decode(x, vt, model) for x in v)
        case ir.SetType(elem=e):
            return frozenset(decode(x, e, model) for g, x in v.elems
                             if z3.is_true(model.eval(g, model_completion=True)))
        case ir.OptionType(elem=e):
            if v.value is None or not z3.is_true(model.eval(v.present, model_completion=True)):
                return None
            return (decode(v.value, e, model),)
    raise TypeError(t)


def _int_of(x: Any) -> int:
    return int(x.as_signed_long() if z3.is_bv_value(x) else x.as_long())


# ----------------------------------------------------------------------------- expressions
@dataclass
class Obligation:
    """`cond` true means interp.py would raise WellDefinedError (or AssertFailure) here."""

    cond: Any
    span: Span
    message: str


@dataclass
class _Ctx:
    state: tuple[Sym, ...] | list[Sym]
    old: tuple[Sym, ...] | None
    env: dict[str, Sym]
    wd: list[Obligation] = field(default_factory=list)


class ExprEncoder:
    def __init__(self, spec: ir.Spec, width: int | None) -> None:
        self.spec = spec
        self.width = width
        self.defs = {d.name: d for d in spec.defs}

    def expr(self, e: ir.Expr, cx: _Ctx, guard: Any) -> Sym:  # noqa: C901 - one case per node
        match e:
            case ir.Const(value=v, type=t):
                if v is None and isinstance(t, ir.OptionType):
                    return SOpt(FALSE, None)
                return lift(v, t, self.width)
            case ir.Var(index=i):
                return cx.state[i]
            case ir.Local(slot=slot):
                return cx.env[slot]
            case ir.Index(base=b, key=k):
                m = self.expr(b, cx, guard)
                key = self.expr(k, cx, guard)
                assert isinstance(b.type, ir.MapType)
                return self.index(m, key, b.type, cx, guard, e.span)
            case ir.GetField(base=b, index=i):
                return self.expr(b, cx, guard)[i]
            case ir.Unwrap(base=b):
                o = self.expr(b, cx, guard)
                if not z3.is_true(o.present):
                    cx.wd.append(Obligation(_and(guard, _not(o.present)), e.span, "unwrapped `none` with `!`"))
                return o.value if o.value is not None else default(e.type, self.width)
            case ir.MakeSome(expr=x):
                return SOpt(TRUE, self.expr(x, cx, guard))
            case ir.MakeRecord(fields=fs):
                return tuple(self.expr(x, cx, guard) for x in fs)
            case ir.WithFields(base=b, updates=ups):
                r = list(self.expr(b, cx, guard))
                for i, x in ups:
                    r[i] = self.expr(x, cx, guard)
                return tuple(r)
            case ir.MakeSet(elems=xs):
                return SSet(tuple((TRUE, self.expr(x, cx, guard)) for x in xs))
            case ir.Binary():
                return self.binary(e, cx, guard)
            case ir.Unary(op="not", arg=a):
                return _not(self.expr(a, cx, guard))
            case ir.Unary(op="neg", arg=a):
                return -self.expr(a, cx, guard)
            case ir.Ite(cond=c, then=a, other=b, type=t):
                cv = self.expr(c, cx, guard)
                av = self.expr(a, cx, _and(guard, cv))
                bv = self.expr(b, cx, _and(guard, _not(cv)))
                return ite(cv, av, bv, t, self.width)
            case ir.Quant():
                return self.quant(e, cx, guard)
            case ir.Call(func=name, args=xs):
                d = self.defs[name]
                vals = [self.expr(x, cx, guard) for x in xs]
                saved = {p.slot: cx.env.get(p.slot) for p in d.params}
                for p, v in zip(d.params, vals, strict=True):
                    cx.env[p.slot] = v
                r = self.expr(d.body, cx, guard)
                for slot, v in saved.items():
                    if v is not None:
                        cx.env[slot] = v
                return r
            case ir.Old(expr=x):
                assert cx.old is not None, "old() outside a transition"
                saved_state = cx.state
                cx.state = cx.old
                try:
                    return self.expr(x, cx, guard)
                finally:
                    cx.state = saved_state
            case ir.Fits(expr=x, type=t, what=what):
                v = self.expr(x, cx, guard)
                ok = conforms(v, t)
                if not z3.is_true(ok):
                    cx.wd.append(Obligation(_and(guard, _not(ok)), e.span, f"{what}: value is outside `{t}`"))
                return v
        raise AssertionError(f"cannot encode {e!r}")

    def index(self, m: tuple[Sym, ...], key: Sym, mt: ir.MapType, cx: _Ctx, guard: Any, span: Span) -> Sym:
        dom = ir.domain(mt.key)
        ok = key_in_domain(key, mt.key)
        if not z3.is_true(ok):
            cx.wd.append(Obligation(_and(guard, _not(ok)), span, f"key outside the domain `{mt.key}` of the map"))
        c = concrete(key)
        if c is not None:
            for i, k in enumerate(dom):
                if k == c or (isinstance(mt.key, ir.EnumType) and i == c):
                    return m[i]
            return default(mt.value, self.width)
        result = m[-1]
        for i in range(len(dom) - 2, -1, -1):
            result = ite(key == lift(dom[i], mt.key, self.width), m[i], result, mt.value, self.width)
        return result

    def binary(self, e: ir.Binary, cx: _Ctx, guard: Any) -> Sym:
        op = e.op
        if op == "and":
            a = self.expr(e.left, cx, guard)
            return _and(a, self.expr(e.right, cx, _and(guard, a)))
        if op == "or":
            a = self.expr(e.left, cx, guard)
            return _or(a, self.expr(e.right, cx, _and(guard, _not(a))))
        if op == "implies":
            a = self.expr(e.left, cx, guard)
            b = self.expr(e.right, cx, _and(guard, a))
            return _or(_not(a), b)
        a = self.expr(e.left, cx, guard)
        b = self.expr(e.right, cx, guard)
        match op:
            case "iff":
                return a == b
            case "eq" | "ne":
                t = join(e.left.type, e.right.type) or e.left.type
                r = eq(a, b, t)
                return r if op == "eq" else _not(r)
            case "lt":
                return a < b
            case "le":
                return a <= b
            case "gt":
                return a > b
            case "ge":
                return a >= b
            case "add":
                return a + b
            case "sub":
                return a - b
            case "mul":
                return a * b
            case "in":
                assert isinstance(e.right.type, ir.SetType)
                return member(a, b, join(e.left.type, e.right.type.elem) or e.left.type)
        elem = _elem_type(e.left.type, e.right.type)
        match op:
            case "union":
                return union(a, b, elem, self.width)
            case "diff":
                return SSet(tuple((_and(g, _not(member(x, b, elem))), x) for g, x in a.elems))
            case "inter":
                return SSet(tuple((_and(g, member(x, b, elem)), x) for g, x in a.elems))
            case "subset":
                return subset(a, b, elem)
            case "psubset":
                return _and(subset(a, b, elem), _not(subset(b, a, elem)))
        raise AssertionError(op)

    def quant(self, e: ir.Quant, cx: _Ctx, guard: Any) -> Sym:
        dom = tuple(ir.all_values(e.domain))
        saved = cx.env.get(e.slot)
        out: list[Sym] = []
        g = guard
        for v in dom:
            cx.env[e.slot] = lift(v, e.domain, self.width)
            body = self.expr(e.body, cx, g)
            out.append(body)
            if e.kind == "forall":
                g = _and(g, body)
            elif e.kind == "exists":
                g = _and(g, _not(body))
        if saved is not None:
            cx.env[e.slot] = saved
        match e.kind:
            case "forall":
                return _and(*out)
            case "exists":
                return _or(*out)
            case "count":
                one, zero = num(1, self.width), num(0, self.width)
                return z3.Sum([z3.If(b, one, zero) for b in out]) if out else zero
            case "sum":
                return z3.Sum(out) if out else num(0, self.width)
            case "map":
                return tuple(out)
        raise AssertionError(e.kind)


def _elem_type(a: ir.Type, b: ir.Type) -> ir.Type:
    t = join(a, b) or a
    assert isinstance(t, ir.SetType), t
    return t.elem


__all__ = ["ExprEncoder", "Leaves", "Obligation", "SOpt", "SSet", "decode", "eq", "ite", "lift", "num"]
