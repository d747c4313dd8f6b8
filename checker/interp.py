"""Concrete semantics of a checked spec: the reference reading of the language.

In: an `ir.Spec`. Out: `Interpreter` with `init()`, `step(state, action, args)` ->
`StepResult | None` (None: a `require` without `else` is false, so the action is not
enabled), `holds(prop, state, old)` and `eval()`. States are tuples of values (encoding in
values.py). Guarantees: effects are atomic (an action that stops at a `require` changes
nothing); `and`/`or`/`implies`/`if` evaluate their right side only when it decides the
result; unwrapping `none`, indexing outside a map's domain and storing out of range raise
`WellDefinedError` with the span of the expression; a false `assert` raises
`AssertFailure`. IR is compiled once into closures; no z3 here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import product
from typing import Any

from checker import ir
from checker.source import Span
from checker.values import show

State = tuple[Any, ...]


class SpecRuntimeError(Exception):
    """A run of the spec went wrong in a way the spec author must fix (not a crash)."""

    def __init__(self, span: Span, message: str) -> None:
        super().__init__(message)
        self.span = span
        self.message = message


class WellDefinedError(SpecRuntimeError):
    """Unwrap of none, key outside a map's domain, or a store out of range."""


class AssertFailure(SpecRuntimeError):
    def __init__(self, span: Span, message: str, prop: str) -> None:
        super().__init__(span, message)
        self.prop = prop


class _Stop(Exception):
    """A `require` decided the step: not enabled (code None) or outcome `code`."""

    def __init__(self, code: str | None, span: Span) -> None:
        self.code = code
        self.span = span


@dataclass(frozen=True)
class StepResult:
    state: State
    outcome: str  # "ok" or the code of the `require ... else CODE` that failed
    failed: Span | None = None  # that require's span


class Frame:
    __slots__ = ("state", "old", "env")

    def __init__(self, state: Any, old: State | None, env: dict[str, Any]) -> None:
        self.state = state
        self.old = old
        self.env = env


Fn = Callable[[Frame], Any]
StmtFn = Callable[[Frame], None]


def _key_position(t: ir.Type) -> Callable[[Any], int | None]:
    """key -> position in the map's tuple, or None when outside the domain."""
    match t:
        case ir.BoolType():
            return lambda k: 1 if k else 0
        case ir.RangeType(lo=lo, hi=hi):
            n = hi - lo + 1
            return lambda k: (k - lo) if 0 <= k - lo < n else None
        case ir.EnumType(members=ms):
            pos = {m: i for i, m in enumerate(ms)}
            return pos.get
    raise TypeError(f"{t} is not a key type")


def _conforms(t: ir.Type) -> Callable[[Any], bool]:
    match t:
        case ir.RangeType(lo=lo, hi=hi):
            return lambda v: lo <= v <= hi
        case ir.MapType(value=vt):
            inner = _conforms(vt)
            return lambda v: all(inner(x) for x in v)
        case ir.SetType(elem=e) | ir.OptionType(elem=e):
            inner = _conforms(e)
            return lambda v: v is None or all(inner(x) for x in v)
        case ir.RecordType(fields=fs):
            checks = [_conforms(ft) for _, ft in fs]
            return lambda v: all(c(x) for c, x in zip(checks, v, strict=True))
    return lambda v: True


class Interpreter:
    def __init__(self, spec: ir.Spec) -> None:
        self.spec = spec
        self._defs: dict[str, Fn] = {}
        self._def_ir = {d.name: d for d in spec.defs}
        self._init = self._block(spec.init)
        self._actions = {a.name: (a, self._block(a.body)) for a in spec.actions}
        self._props = {p.name: self._expr(p.expr) for p in spec.properties if p.expr is not None}
        self._args: dict[str, tuple[tuple[Any, ...], ...]] = {}

    # ------------------------------------------------------------------ public API
    def init(self) -> State:
        """The initial state. Raises WellDefinedError / AssertFailure from `init`."""
        f = Frame([None] * len(self.spec.vars), None, {})
        try:
            self._init(f)
        except _Stop as stop:
            what = f"`require ... else {stop.code}`" if stop.code else "a `require`"
            raise WellDefinedError(stop.span, f"{what} is false in `init`: the spec has no initial state") from None
        return tuple(f.state)

    def step(self, state: State, action: str | ir.Action, args: tuple[Any, ...]) -> StepResult | None:
        name = action if isinstance(action, str) else action.name
        act, body = self._actions[name]
        f = Frame(list(state), None, {p.slot: v for p, v in zip(act.params, args, strict=True)})
        try:
            body(f)
        except _Stop as stop:
            if stop.code is None:
                return None
            return StepResult(state, stop.code, stop.span)
        return StepResult(tuple(f.state), "ok")

    def args(self, action: str | ir.Action) -> tuple[tuple[Any, ...], ...]:
        """Every argument tuple of an action, in a fixed order."""
        name = action if isinstance(action, str) else action.name
        if name not in self._args:
            act = self._actions[name][0]
            self._args[name] = tuple(product(*(tuple(ir.all_values(p.type)) for p in act.params)))
        return self._args[name]

    def holds(self, prop: str, state: State, old: State | None = None) -> bool:
        return bool(self._props[prop](Frame(state, old, {})))

    def eval(self, e: ir.Expr, state: State, env: dict[str, Any] | None = None, old: State | None = None) -> Any:
        return self._expr(e)(Frame(state, old, dict(env or {})))

    def compile(self, e: ir.Expr) -> Callable[[State, dict[str, Any], State | None], Any]:
        fn = self._expr(e)

        def run(state: State, env: dict[str, Any], old: State | None = None) -> Any:
            return fn(Frame(state, old, env))
        return run

    # ------------------------------------------------------------------ expressions
    def _def(self, name: str) -> Fn:
        if name not in self._defs:
            self._defs[name] = lambda f: None  # placeholder; defs are never recursive
            self._defs[name] = self._expr(self._def_ir[name].body)
        return self._defs[name]

    def _expr(self, e: ir.Expr | None) -> Fn:  # noqa: C901 - one case per IR node
        match e:
            case None:
                return lambda f: True
            case ir.Const(value=v):
                return lambda f: v
            case ir.Var(index=i):
                return lambda f: f.state[i]
            case ir.Local(slot=slot):
                return lambda f: f.env[slot]
            case ir.Index(base=b, key=k):
                base, key = self._expr(b), self._expr(k)
                assert isinstance(b.type, ir.MapType)
                pos = _key_position(b.type.key)
                kt, sp = b.type.key, e.span
                if isinstance(kt, ir.RangeType):  # the common case, without the extra call
                    lo, n = kt.lo, kt.hi - kt.lo + 1

                    def index_range(f: Frame) -> Any:
                        kv = key(f)
                        p = kv - lo
                        if 0 <= p < n:
                            return base(f)[p]
                        raise WellDefinedError(sp, f"key {kv} is outside the domain `{kt}` of the map")
                    return index_range

                def index(f: Frame) -> Any:
                    kv = key(f)
                    p = pos(kv)
                    if p is None:
                        raise WellDefinedError(sp, f"key {show(kv, kt)} is outside the domain `{kt}` of the map")
                    return base(f)[p]
                return index
            case ir.GetField(base=b, index=i):
                base = self._expr(b)
                return lambda f: base(f)[i]
            case ir.Unwrap(base=b):
                base, sp = self._expr(b), e.span

                def unwrap(f: Frame) -> Any:
                    v = base(f)
                    if v is None:
                        raise WellDefinedError(sp, "unwrapped `none` with `!`")
                    return v[0]
                return unwrap
            case ir.MakeSome(expr=x):
                inner = self._expr(x)
                return lambda f: (inner(f),)
            case ir.MakeRecord(fields=fs):
                fns = [self._expr(x) for x in fs]
                return lambda f: tuple(fn(f) for fn in fns)
            case ir.WithFields(base=b, updates=ups):
                base = self._expr(b)
                upd = [(i, self._expr(x)) for i, x in ups]

                def with_fields(f: Frame) -> Any:
                    r = list(base(f))
                    for i, fn in upd:
                        r[i] = fn(f)
                    return tuple(r)
                return with_fields
            case ir.MakeSet(elems=xs):
                fns = [self._expr(x) for x in xs]
                return lambda f: frozenset(fn(f) for fn in fns)
            case ir.Binary():
                return self._binary(e)
            case ir.Unary(op="not", arg=a):
                arg = self._expr(a)
                return lambda f: not arg(f)
            case ir.Unary(op="neg", arg=a):
                arg = self._expr(a)
                return lambda f: -arg(f)
            case ir.Ite(cond=c, then=a, other=b):
                cond, then, other = self._expr(c), self._expr(a), self._expr(b)
                return lambda f: then(f) if cond(f) else other(f)
            case ir.Quant():
                return self._quant(e)
            case ir.Call(func=name, args=xs):
                d = self._def_ir[name]
                slots = [p.slot for p in d.params]
                fns = [self._expr(x) for x in xs]
                defs = self._defs

                def call(f: Frame) -> Any:
                    vals = [fn(f) for fn in fns]
                    env = f.env
                    for s, v in zip(slots, vals, strict=True):
                        env[s] = v
                    body = defs.get(name) or self._def(name)
                    return body(f)
                return call
            case ir.Old(expr=x):
                inner = self._expr(x)

                def old(f: Frame) -> Any:
                    saved = f.state
                    f.state = f.old
                    try:
                        return inner(f)
                    finally:
                        f.state = saved
                return old
            case ir.Fits(expr=x, type=t, what=what):
                inner, ok, sp = self._expr(x), _conforms(t), e.span

                def fits(f: Frame) -> Any:
                    v = inner(f)
                    if not ok(v):
                        raise WellDefinedError(sp, f"{what}: value {show(v, x.type)} is outside `{t}`"
                                               + (f" ({t.lo} .. {t.hi})" if isinstance(t, ir.RangeType) and t.name else ""))
                    return v
                return fits
        raise AssertionError(f"unknown IR node {e!r}")

    def _binary(self, e: ir.Binary) -> Fn:
        a, b = self._expr(e.left), self._expr(e.right)
        match e.op:
            case "and":
                return lambda f: bool(a(f)) and bool(b(f))
            case "or":
                return lambda f: bool(a(f)) or bool(b(f))
            case "implies":
                return lambda f: (not a(f)) or bool(b(f))
            case "iff":
                return lambda f: bool(a(f)) == bool(b(f))
            case "eq":
                return lambda f: a(f) == b(f)
            case "ne":
                return lambda f: a(f) != b(f)
            case "lt":
                return lambda f: a(f) < b(f)
            case "le":
                return lambda f: a(f) <= b(f)
            case "gt":
                return lambda f: a(f) > b(f)
            case "ge":
                return lambda f: a(f) >= b(f)
            case "add":
                return lambda f: a(f) + b(f)
            case "sub":
                return lambda f: a(f) - b(f)
            case "mul":
                return lambda f: a(f) * b(f)
            case "in":
                return lambda f: a(f) in b(f)
            case "union":
                return lambda f: a(f) | b(f)
            case "diff":
                return lambda f: a(f) - b(f)
            case "inter":
                return lambda f: a(f) & b(f)
            case "subset":
                return lambda f: a(f) <= b(f)
            case "psubset":
                return lambda f: a(f) < b(f)
        raise AssertionError(e.op)

    def _quant(self, e: ir.Quant) -> Fn:
        body, slot, dom = self._expr(e.body), e.slot, tuple(ir.all_values(e.domain))

        def each(f: Frame) -> Iterator[Any]:
            env = f.env
            for v in dom:
                env[slot] = v
                yield body(f)

        match e.kind:
            case "forall":
                return lambda f: all(each(f))
            case "exists":
                return lambda f: any(each(f))
            case "count":
                return lambda f: sum(1 for x in each(f) if x)
            case "sum":
                return lambda f: sum(each(f))
            case "map":
                return lambda f: tuple(each(f))
        raise AssertionError(e.kind)

    # ------------------------------------------------------------------ statements
    def _block(self, stmts: tuple[ir.Stmt, ...]) -> StmtFn:
        fns = [self._stmt(s) for s in stmts]

        def block(f: Frame) -> None:
            for fn in fns:
                fn(f)
        return block

    def _stmt(self, s: ir.Stmt) -> StmtFn:
        match s:
            case ir.Assign(var=i, path=path, expr=x):
                value = self._expr(x)
                if not path:
                    def assign(f: Frame) -> None:
                        f.state[i] = value(f)
                    return assign
                steps: list[tuple[bool, Any, Any]] = []
                for p in path:
                    if isinstance(p, ir.PathIndex):
                        steps.append((True, self._expr(p.key), (_key_position(p.map_type.key), p.map_type.key, p.key.span)))
                    else:
                        steps.append((False, p.index, None))

                def assign_path(f: Frame) -> None:
                    positions = []
                    for is_index, k, info in steps:
                        if is_index:
                            kv = k(f)
                            pos = info[0](kv)
                            if pos is None:
                                raise WellDefinedError(info[2], f"key {show(kv, info[1])} is outside the domain `{info[1]}` of the map")
                            positions.append(pos)
                        else:
                            positions.append(k)
                    v = value(f)
                    f.state[i] = _update(f.state[i], positions, 0, v)
                return assign_path
            case ir.Let(slot=slot, expr=x):
                value = self._expr(x)

                def let(f: Frame) -> None:
                    f.env[slot] = value(f)
                return let
            case ir.Require(cond=c, code=code):
                cond, sp = self._expr(c), s.span

                def require(f: Frame) -> None:
                    if not cond(f):
                        raise _Stop(code, sp)
                return require
            case ir.If(cond=c, then=a, other=b):
                cond, then, other = self._expr(c), self._block(a), self._block(b)

                def if_(f: Frame) -> None:
                    if cond(f):
                        then(f)
                    else:
                        other(f)
                return if_
            case ir.For(slot=slot, domain=t, body=b):
                body, dom = self._block(b), tuple(ir.all_values(t))

                def for_(f: Frame) -> None:
                    for v in dom:
                        f.env[slot] = v
                        body(f)
                return for_
            case ir.Assert(cond=c, prop=prop):
                cond, sp = self._expr(c), s.span

                def assert_(f: Frame) -> None:
                    if not cond(f):
                        raise AssertFailure(sp, f"`assert` is false ({prop})", prop)
                return assert_
        raise AssertionError(s)


def _update(container: Any, positions: list[Any], depth: int, value: Any) -> Any:
    if depth == len(positions):
        return value
    p = positions[depth]
    return container[:p] + (_update(container[p], positions, depth + 1, value),) + container[p + 1:]
