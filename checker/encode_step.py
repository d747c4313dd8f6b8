"""One step of a spec as a z3 template, built once; engines instantiate it per step.

In: an `ir.Spec`. Out: `StepEncoding` with
  * `pre`, `post`: template states (tuples of symbolic values over fresh leaves),
  * `act` (action selector), `out` (outcome index into `codes`), `params[action]`,
  * `trans`: pre --(act, params)--> post, for steps that complete (ok or a require-else
    code) without a well-definedness failure or a false assert,
  * `step_wd[action]`, `step_asserts[action][prop]`: when the step out of `pre` goes wrong,
  * `props[name]`: each invariant / cover over `pre`, each transition over (`pre`, `post`)
    and `act`, with `prop_wd[name]` where its evaluation goes wrong,
  * `domain`: the range constraints of every template leaf.
`frame(k)` gives fresh per-step constants for step k and the substitution pairs that
map the template onto them. Symbolic execution follows interp.py statement by statement:
a false `require` without `else` disables the step, one with `else CODE` makes the step
complete with CODE and no effect (atomic), `if` merges the two branches with If.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import z3

from checker import ir
from checker.bounds import int_width
from checker.encode import (
    FALSE,
    TRUE,
    ExprEncoder,
    Leaves,
    Obligation,
    _and,
    _Ctx,
    _not,
    _or,
    concrete,
    eq,
    ite,
    lift,
)


@dataclass
class ActionEncoding:
    enabled: Any
    ok: Any
    codes: dict[str, Any]
    next: tuple[Any, ...]
    wd: list[Obligation]
    asserts: dict[str, list[Obligation]]


class _Exec:
    """Symbolic execution of one statement list (interp.py's _stmt, symbolically)."""

    def __init__(self, enc: ExprEncoder, cx: _Ctx) -> None:
        self.enc = enc
        self.cx = cx
        self.exits: list[tuple[Any, str | None]] = []
        self.asserts: dict[str, list[Obligation]] = {}

    def block(self, stmts: tuple[ir.Stmt, ...], alive: Any) -> Any:
        for s in stmts:
            alive = self.stmt(s, alive)
        return alive

    def stmt(self, s: ir.Stmt, alive: Any) -> Any:
        cx, enc = self.cx, self.enc
        match s:
            case ir.Assign(var=i, path=path, expr=x):
                keys = []
                for p in path:
                    if isinstance(p, ir.PathIndex):
                        k = enc.expr(p.key, cx, alive)
                        ok = _key_ok(k, p.map_type.key)
                        if not z3.is_true(ok):
                            cx.wd.append(Obligation(_and(alive, _not(ok)), p.key.span,
                                                    f"key outside the domain `{p.map_type.key}` of the map"))
                        keys.append(k)
                    else:
                        keys.append(None)
                value = enc.expr(x, cx, alive)
                var_type = self.enc.spec.vars[i].type
                state = list(cx.state)
                state[i] = _update(state[i], var_type, list(zip(path, keys, strict=True)), value, enc.width)
                cx.state = state
                return alive
            case ir.Let(slot=slot, expr=x):
                cx.env[slot] = enc.expr(x, cx, alive)
                return alive
            case ir.Require(cond=c, code=code):
                cv = enc.expr(c, cx, alive)
                self.exits.append((_and(alive, _not(cv)), code))
                return _and(alive, cv)
            case ir.If(cond=c, then=a, other=b):
                cv = enc.expr(c, cx, alive)
                before = list(cx.state)
                alive_t = self.block(a, _and(alive, cv))
                after_t = list(cx.state)
                cx.state = list(before)
                alive_e = self.block(b, _and(alive, _not(cv)))
                after_e = list(cx.state)
                types = [v.type for v in self.enc.spec.vars]
                cx.state = [t_v if t_v is e_v else ite(cv, t_v, e_v, t, enc.width)
                            for t_v, e_v, t in zip(after_t, after_e, types, strict=True)]
                return _or(alive_t, alive_e)
            case ir.For(slot=slot, domain=t, body=b):
                for v in ir.all_values(t):
                    cx.env[slot] = lift(v, t, enc.width)
                    alive = self.block(b, alive)
                return alive
            case ir.Assert(cond=c, prop=prop):
                cv = enc.expr(c, cx, alive)
                self.asserts.setdefault(prop, []).append(Obligation(_and(alive, _not(cv)), s.span, f"`assert` is false ({prop})"))
                # interp raises AssertFailure here: nothing after a false assert is evaluated
                return _and(alive, cv)
        raise AssertionError(s)


def _key_ok(k: Any, t: ir.Type) -> Any:
    if isinstance(t, ir.RangeType):
        c = concrete(k)
        if c is not None:
            return z3.BoolVal(t.lo <= c <= t.hi)
        return z3.And(k >= t.lo, k <= t.hi)
    return TRUE


def _update(container: Any, t: ir.Type, path: list[tuple[Any, Any]], value: Any, width: int | None) -> Any:
    if not path:
        return value
    (step, key), rest = path[0], path[1:]
    if isinstance(step, ir.PathField):
        assert isinstance(t, ir.RecordType)
        r = list(container)
        r[step.index] = _update(container[step.index], t.fields[step.index][1], rest, value, width)
        return tuple(r)
    assert isinstance(t, ir.MapType)
    dom = ir.domain(t.key)
    c = concrete(key)
    out = []
    for i, k in enumerate(dom):
        kv = lift(k, t.key, width)
        if c is not None:
            hit = (i == c) if isinstance(t.key, ir.EnumType) else (k == c)
            out.append(_update(container[i], t.value, rest, value, width) if hit else container[i])
        else:
            out.append(ite(key == kv, _update(container[i], t.value, rest, value, width), container[i], t.value,
                           width))
    return tuple(out)


class StepEncoding:
    """The template; see the module docstring."""

    def __init__(self, spec: ir.Spec, width: int | None | Literal["auto"] = "auto") -> None:
        """width: the bits of every integer leaf and literal ("auto": bounds.int_width, a
        width no computation of the spec overflows; None: unbounded Ints)."""
        self.spec = spec
        self._subst: dict[int, tuple[Any, int, Any, Any]] = {}
        self.width: int | None = int_width(spec) if width == "auto" else width
        # z3's finite-domain solver (bit-blasting to SAT) when every integer is a bit-vector
        self.logic: str | None = "QF_FD" if self.width is not None else None
        self.enc = ExprEncoder(spec, self.width)
        self.codes: tuple[str, ...] = ("ok",) + tuple(sorted({c for a in spec.actions for c in a.codes}))
        self.leaves = Leaves(self.width)
        self.pre = tuple(self.leaves.fresh(v.type, f"s.{v.name}") for v in spec.vars)
        n_pre_dom = len(self.leaves.domain)
        self.post = tuple(self.leaves.fresh(v.type, f"t.{v.name}") for v in spec.vars)
        n_post_dom = len(self.leaves.domain)
        self.pre_leaves = self.leaves.consts[: len(self.leaves.consts) // 2]
        # the action selector and the outcome index (bit-vectors wide enough for the count)
        sel_width = max(len(spec.actions), len(self.codes)).bit_length() + 1
        self.act = z3.Int("act") if self.width is None else z3.BitVec("act", sel_width)
        self.out = z3.Int("out") if self.width is None else z3.BitVec("out", sel_width)
        self.leaves.consts.extend([self.act, self.out])
        self.leaves.domain.append(z3.And(self.act >= 0, self.act < max(len(spec.actions), 1)))
        self.params: dict[str, tuple[Any, ...]] = {}
        for a in spec.actions:
            self.params[a.name] = tuple(self.leaves.fresh(p.type, f"p.{a.name}.{p.name}") for p in a.params)
        self.actions: dict[str, ActionEncoding] = {a.name: self.action(a) for a in spec.actions}
        self.index = {a.name: i for i, a in enumerate(spec.actions)}
        self.trans = self._trans()
        self.step_wd = {n: _or(*(o.cond for o in a.wd)) for n, a in self.actions.items()}
        self.props: dict[str, Any] = {}
        self.prop_wd: dict[str, list[Obligation]] = {}
        for p in spec.properties:
            if p.kind in ("invariant", "cover"):
                cx = _Ctx(self.pre, None, {})
                self.props[p.name] = self.enc.expr(p.expr, cx, TRUE)  # type: ignore[arg-type]
                self.prop_wd[p.name] = cx.wd
            elif p.kind == "transition":
                cx = _Ctx(self.post, self.pre, {})
                body = self.enc.expr(p.expr, cx, TRUE)  # type: ignore[arg-type]
                on = p.on if p.on is not None else tuple(a.name for a in spec.actions)
                sel = _or(*(self.act == self.index[n] for n in on if n in self.index))
                self.props[p.name] = z3.Implies(sel, body)
                self.prop_wd[p.name] = [Obligation(_and(sel, o.cond), o.span, o.message) for o in cx.wd]
        self.domain = _and(*self.leaves.domain)
        # the parts: pre-state ranges, post-state ranges, the selector's and parameters' ranges
        self.domain_pre = _and(*self.leaves.domain[:n_pre_dom])
        self.domain_inputs = _and(*self.leaves.domain[n_post_dom:])

    def action(self, a: ir.Action) -> ActionEncoding:
        env = {p.slot: v for p, v in zip(a.params, self.params[a.name], strict=True)}
        cx = _Ctx(list(self.pre), None, env)
        ex = _Exec(self.enc, cx)
        alive = ex.block(a.body, TRUE)
        disabled = _or(*(c for c, code in ex.exits if code is None))
        codes: dict[str, Any] = {}
        for c, code in ex.exits:
            if code is not None:
                codes[code] = _or(codes.get(code, FALSE), c)
        types = [v.type for v in self.spec.vars]
        nxt = tuple(ite(alive, new, old, t, self.width) for new, old, t in zip(cx.state, self.pre, types, strict=True))
        return ActionEncoding(_not(disabled), alive, codes, nxt, cx.wd, ex.asserts)

    def outcome_index(self, ae: ActionEncoding) -> Any:
        r: Any = z3.IntVal(0) if self.width is None else z3.BitVecVal(0, self.out.size())
        for code, cond in sorted(ae.codes.items(), reverse=True):
            r = z3.If(cond, self.codes.index(code), r)
        return r

    def _trans(self) -> Any:
        """Which action runs and whether it may, plus ONE functional definition per post
        leaf (post = If(act == 0, next_0, If(act == 1, next_1, ...))): solvers propagate
        definitions far better than a disjunction of per-action state equalities."""
        types = [v.type for v in self.spec.vars]
        guards = []
        for a in self.spec.actions:
            ae = self.actions[a.name]
            bad = _or(*(o.cond for o in ae.wd), *(o.cond for obs in ae.asserts.values() for o in obs))
            guards.append(_and(self.act == self.index[a.name], ae.enabled, _not(bad)))
        if not guards:
            self.enabled, self.trans_def = FALSE, TRUE
            return FALSE
        acts = self.spec.actions
        nxt = list(self.actions[acts[-1].name].next)
        out: Any = self.outcome_index(self.actions[acts[-1].name])
        for a in reversed(acts[:-1]):
            ae = self.actions[a.name]
            sel = self.act == self.index[a.name]
            nxt = [ite(sel, n_a, n_rest, t, self.width) for n_a, n_rest, t in zip(ae.next, nxt, types, strict=True)]
            out = z3.If(sel, self.outcome_index(ae), out)
        same = _and(*(eq(p, n, t) for p, n, t in zip(self.post, nxt, types, strict=True)))
        # trans = enabled and trans_def: whether the chosen step may run (guards, no error),
        # and the post-state and outcome as functions of pre-state, selector and parameters
        self.enabled = _or(*guards)
        self.trans_def = _and(same, self.out == out)
        return _and(self.enabled, self.trans_def)

    # ------------------------------------------------------------------ what goes wrong
    def good(self, name: str) -> Any:
        """Invariant `name` holds and is well defined (over the template pre-state)."""
        return _and(self.props[name], *(_not(o.cond) for o in self.prop_wd.get(name, [])))

    def step_error(self) -> Any:
        """The step out of `pre` (by `act`, `params`) is ill-defined."""
        return _or(*(_and(self.act == self.index[a.name], self.step_wd[a.name]) for a in self.spec.actions))

    def assert_fails(self, prop: str, exclusive: bool = False) -> Any:
        """The step out of `pre` fails the `assert` `prop` (exclusive: and is well defined
        up to there, as the interpreter would report the assert, not an earlier error)."""
        cases = []
        for a in self.spec.actions:
            obs = self.actions[a.name].asserts.get(prop)
            if obs:
                ok = [_not(o.cond) for o in self.actions[a.name].wd] if exclusive else []
                cases.append(_and(self.act == self.index[a.name], *ok, _or(*(o.cond for o in obs))))
        return _or(*cases)

    def ill_defined(self, name: str) -> Any:
        """Evaluating property `name` (over pre, or the step for transitions) goes wrong."""
        return _or(*(o.cond for o in self.prop_wd[name]))

    def anything_ill_defined(self) -> Any:
        """Some step, state property or transition property is ill-defined here."""
        state = _or(*(self.ill_defined(p.name) for p in self.spec.properties if p.kind in ("invariant", "cover")))
        trans = _and(self.trans, _or(*(self.ill_defined(p.name) for p in self.spec.properties
                                        if p.kind == "transition")))
        return _or(self.step_error(), state, trans)

    def bad(self, prop: ir.Property) -> Any:
        """A state (and step) that refutes `prop` (for a cover: that reaches it)."""
        match prop.kind:
            case "invariant":
                return _or(_not(self.props[prop.name]), self.ill_defined(prop.name))
            case "cover":
                return self.props[prop.name]
            case "transition":
                return _and(self.trans, _or(_not(self.props[prop.name]), self.ill_defined(prop.name)))
            case "assert":
                return self.assert_fails(prop.name)
            case "well_defined":
                return self.anything_ill_defined()
        raise ValueError(prop.kind)

    # ------------------------------------------------------------------ instantiation
    def frame_pairs(self, k: int) -> list[tuple[Any, Any]]:
        """Template leaves -> the constants of step k (pre = state k, post = state k+1)."""
        pairs = []
        n = len(self.pre_leaves)
        for i, c in enumerate(self.leaves.consts):
            if i < n:
                new = z3.Const(f"{c}@{k}".replace("s.", "v.", 1), c.sort())
            elif i < 2 * n:
                new = z3.Const(f"{self.leaves.consts[i - n]}@{k + 1}".replace("s.", "v.", 1), c.sort())
            else:
                new = z3.Const(f"{c}@{k}", c.sort())
            pairs.append((c, new))
        return pairs

    def instantiate(self, f: Any, pairs: list[tuple[Any, Any]]) -> Any:
        """f with every template leaf replaced by its step constant. z3.substitute checks
        the sorts of every pair in Python on each call (thousands of pairs: ~15 ms); the
        C arrays of each frame's pairs are built and checked once and reused instead."""
        if not pairs:
            return f
        cached = self._subst.get(id(pairs))
        if cached is None or cached[0] is not pairs:
            n = len(pairs)
            src, dst = (z3.Ast * n)(), (z3.Ast * n)()
            for i, (a, b) in enumerate(pairs):
                assert a.sort().eq(b.sort()), (a, b)
                src[i], dst[i] = a.as_ast(), b.as_ast()
            cached = (pairs, n, src, dst)
            self._subst[id(pairs)] = cached
        _, n, src, dst = cached
        ctx = f.ctx
        return z3.z3._to_expr_ref(z3.Z3_substitute(ctx.ref(), f.as_ast(), n, src, dst), ctx)


__all__ = ["StepEncoding", "ActionEncoding"]
