"""ast.Spec -> ir.Spec, or SpecError listing every mistake found (never a half-checked tree).

In: a parsed spec and `--set NAME=VALUE` overrides. Out: an `ir.Spec` with names resolved,
constants folded, types checked and range checks (`ir.Fits`) placed at every store that
could leave its range. Declarations are checked in dependency order (consts, types, vars,
def signatures, then bodies); the checker keeps going after an error and gives an
erroneous expression the type `?` so that one mistake is reported once. Expression rules
live in typecheck_expr.py; this module owns declarations and statements.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from checker import ast, ir
from checker.diagnostics import Note, SpecError, did_you_mean
from checker.ir import ANY, BOOL, Type
from checker.source import Span
from checker.typecheck_expr import ExprChecker, Scope
from checker.types import assignable, needs_check

CODE_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")
BUILTIN_PROPERTIES = ("well_defined",)


@dataclass
class Context:
    """What a statement list may do where it stands."""

    where: str  # "init" or the action's name
    assigned: set[str] | None = None  # init only: vars assigned as a whole on this path
    codes: set[str] = field(default_factory=set)


def check(spec: ast.Spec, overrides: Mapping[str, int] | None = None) -> ir.Spec:
    """Type-check a parsed spec. Raises SpecError with every diagnostic found."""
    return _Checker(spec, dict(overrides or {})).run()


class _Checker(ExprChecker):
    def __init__(self, spec: ast.Spec, overrides: dict[str, int]) -> None:
        super().__init__(spec.span.path)
        self.spec = spec
        self.overrides = overrides
        self.var_decls: list[ir.StateVar] = []
        self.asserts: list[ir.Property] = []

    # ------------------------------------------------------------------ driver
    def run(self) -> ir.Spec:
        decls = self.spec.decls
        self.collect_names(decls)
        self.check_overrides()
        for d in decls:
            if isinstance(d, ast.ConstDecl):
                self.const_value(d.name)
        for d in decls:
            if isinstance(d, ast.EnumDecl | ast.RecordDecl | ast.TypeDecl):
                self.named_type(d.name, d.name_span)
        self.register_enum_members(decls)
        for d in decls:
            if isinstance(d, ast.VarDecl):
                t = self.resolve_type(d.type)
                if self.decl_of.get(d.name) is not d:
                    continue  # a duplicate, already reported (E010)
                if not ir.has_error(t) and not ir.is_finite(t):
                    self.error("E026", f"state variable `{d.name}` has type `{t}`, which is not finite",
                               d.type.span, hint="every state type must be finite: use a range such as `0 .. 3`")
                self.var_index[d.name] = len(self.var_decls)
                self.var_decls.append(ir.StateVar(d.name, t, d.ghost, d.span))
        self.vars = tuple(self.var_decls)
        for d in decls:
            if isinstance(d, ast.DefDecl) and self.decl_of.get(d.name) is d:
                self.def_signature(d)
        for d in decls:
            if isinstance(d, ast.DefDecl) and self.decl_of.get(d.name) is d:
                self.def_body(d)
        self.check_recursion()

        inits = [d for d in decls if isinstance(d, ast.InitDecl)]
        init_body: tuple[ir.Stmt, ...] = ()
        if not inits:
            self.error("E034", "the spec has no `init` block", self.spec.name_span,
                       hint="add `init { ... }` assigning every `var`")
        for extra in inits[1:]:
            self.error("E034", "a spec has exactly one `init` block", extra.span,
                       notes=(Note("the first one is here", inits[0].span),))
        if inits:
            init_body = self.init_block(inits[0])

        actions = [self.action(d) for d in decls if isinstance(d, ast.ActionDecl)]
        self.action_names = {a.name for a in actions}
        props: list[ir.Property] = []
        for d in decls:
            if isinstance(d, ast.InvariantDecl):
                props.append(ir.Property(d.name, "invariant", self.prop_expr(d.expr, False), span=d.span))
            elif isinstance(d, ast.TransitionDecl):
                for name, sp in zip(d.on, d.on_spans, strict=True):
                    if name not in self.action_names:
                        self.error("E017", f"`on` names `{name}`, which is not an action", sp,
                                   hint=did_you_mean(name, self.action_names))
                props.append(ir.Property(d.name, "transition", self.prop_expr(d.expr, True),
                                         on=d.on or None, span=d.span))
            elif isinstance(d, ast.CoverDecl):
                props.append(ir.Property(d.name, "cover", self.prop_expr(d.expr, False), span=d.span))
        props.extend(self.asserts)
        props.append(ir.Property("well_defined", "well_defined", None, span=self.spec.name_span))
        expects = self.expects(decls, props)
        if self.diags:
            raise SpecError(sorted(self.diags, key=lambda d: (d.span.line, d.span.col, d.code)))
        return ir.Spec(
            name=self.spec.name, title=self.spec.title, path=self.path,
            consts=tuple(sorted(self.const_values.items())), vars=self.vars,
            defs=tuple(self.defs[n] for n in sorted(self.defs) if n in self.def_done),
            init=init_body, actions=tuple(actions), properties=tuple(props),
            expects=tuple(expects), span=self.spec.span)

    # ------------------------------------------------------------------ names
    def collect_names(self, decls: tuple[ast.Decl, ...]) -> None:
        seen: dict[str, Span] = {}
        for d in decls:
            if isinstance(d, ast.InitDecl | ast.ExpectDecl):
                continue
            name, sp = d.name, d.name_span
            if name in BUILTIN_PROPERTIES:
                self.error("E010", f"`{name}` is the built-in well-definedness property", sp,
                           hint="choose another name")
                continue
            if name in seen:
                self.error("E010", f"`{name}` is declared twice", sp,
                           notes=(Note("first declared here", seen[name]),),
                           hint="names of consts, types, vars, defs, actions and properties share one namespace")
                continue
            seen[name] = sp
            self.decl_of[name] = d

    def check_overrides(self) -> None:
        consts = {n for n, d in self.decl_of.items() if isinstance(d, ast.ConstDecl)}
        for name in sorted(self.overrides):
            if name not in consts:
                hint = did_you_mean(name, consts) or (
                    "the spec declares: " + ", ".join(sorted(consts)) if consts else "the spec declares no consts")
                self.error("E035", f"`--set {name}=...` names no `const` of this spec", self.spec.name_span,
                           hint=hint)

    def register_enum_members(self, decls: tuple[ast.Decl, ...]) -> None:
        for d in decls:
            if isinstance(d, ast.EnumDecl):
                t = self.types.get(d.name)
                if isinstance(t, ir.EnumType):
                    for m in d.members:
                        self.members.setdefault(m, []).append(t)

    # ------------------------------------------------------------------ defs
    def def_signature(self, d: ast.DefDecl) -> None:
        params = []
        seen: set[str] = set()
        for p in d.params:
            if p.name in seen:
                self.error("E010", f"parameter `{p.name}` is declared twice", p.span)
            seen.add(p.name)
            params.append(ir.Param(self.fresh(p.name), p.name, self.resolve_type(p.type), p.span))
        self.def_sigs[d.name] = (tuple(params), self.resolve_type(d.result))

    def def_body(self, d: ast.DefDecl) -> None:
        params, result = self.def_sigs[d.name]
        scope = Scope(None)
        for p in params:
            scope.names[p.name] = ir.Local(p.slot, p.name, p.type, p.span)
        self.current_def = d.name
        self.calls[d.name] = set()
        body = self.expr(d.body, scope, expected=result)
        self.current_def = None
        body = self.store(body, result, f"the result of `{d.name}`", d.body.span)
        self.defs[d.name] = ir.Def(d.name, params, result, body, d.span)
        self.def_done.add(d.name)

    def check_recursion(self) -> None:
        state: dict[str, int] = {}

        def visit(name: str, stack: list[str]) -> None:
            state[name] = 1
            for callee in sorted(self.calls.get(name, ())):
                if state.get(callee) == 1:
                    cycle = stack[stack.index(callee):] + [callee] if callee in stack else [name, callee]
                    decl = self.decl_of[callee]
                    assert isinstance(decl, ast.DefDecl)
                    self.error("E018", "recursive `def`: " + " -> ".join(cycle), decl.name_span,
                               hint="defs may not call themselves, directly or through others; unfold with `for` or a quantifier")
                elif state.get(callee) is None:
                    visit(callee, stack + [callee])
            state[name] = 2

        for name in sorted(self.calls):
            if name not in state:
                visit(name, [name])

    # ------------------------------------------------------------------ init and actions
    def init_block(self, d: ast.InitDecl) -> tuple[ir.Stmt, ...]:
        ctx = Context("init", assigned=set())
        body = self.block(d.body, Scope(None), ctx)
        assert ctx.assigned is not None
        missing = [v.name for v in self.vars if v.name not in ctx.assigned]
        if missing:
            self.error("E031", "`init` does not assign " + ", ".join(f"`{m}`" for m in missing)
                       + " on every path", d.span,
                       hint=f"add `{missing[0]} = ...` to `init` (a `map x: T. E` literal builds a whole map)")
        return body

    def action(self, d: ast.ActionDecl) -> ir.Action:
        scope = Scope(None)
        params = []
        for p in d.params:
            t = self.resolve_type(p.type)
            if p.name in scope.names:
                self.error("E010", f"parameter `{p.name}` is declared twice", p.span)
            if not ir.has_error(t) and not ir.is_finite(t):
                self.error("E026", f"parameter `{p.name}` has type `{t}`, which is not finite", p.type.span,
                           hint="the environment tries every value of a parameter's type: use a range")
            local = ir.Param(self.fresh(p.name), p.name, t, p.span)
            params.append(local)
            scope.names[p.name] = ir.Local(local.slot, p.name, t, p.span)
        actor = None
        if d.actor is not None:
            idx = None
            if d.actor.param is not None:
                names = [p.name for p in d.params]
                if d.actor.param in names:
                    idx = names.index(d.actor.param)
                else:
                    self.error("E036", f"actor `{d.actor.name}({d.actor.param})` names `{d.actor.param}`, "
                               f"which is not a parameter of `{d.name}`", d.actor.span,
                               hint=did_you_mean(d.actor.param, names) or "write `by NAME` or `by NAME(param)`")
            actor = ir.Actor(d.actor.name, idx)
        ctx = Context(d.name)
        body = self.block(d.body, scope, ctx)
        return ir.Action(d.name, tuple(params), actor, body, tuple(sorted(ctx.codes)), d.span)

    def block(self, stmts: tuple[ast.Stmt, ...], outer: Scope, ctx: Context) -> tuple[ir.Stmt, ...]:
        scope = Scope(outer)
        out: list[ir.Stmt] = []
        for s in stmts:
            r = self.stmt(s, scope, ctx)
            if r is not None:
                out.append(r)
        return tuple(out)

    def stmt(self, s: ast.Stmt, scope: Scope, ctx: Context) -> ir.Stmt | None:
        self.reading_init = ctx.assigned
        match s:
            case ast.Assign():
                return self.assign(s, scope, ctx)
            case ast.Let():
                e = self.expr(s.expr, scope)
                slot = self.fresh(s.name)
                if s.name in scope.names:
                    self.error("E010", f"`{s.name}` is already defined in this block", s.name_span,
                               hint="choose another name")
                scope.names[s.name] = ir.Local(slot, s.name, e.type, s.name_span)
                return ir.Let(slot, s.name, e, s.span)
            case ast.Require():
                cond = self.expr(s.cond, scope, expected=BOOL)
                self.expect_type(BOOL, cond, s.cond.span, "a `require` condition")
                if s.code is not None:
                    if not CODE_RE.match(s.code):
                        self.error("E033", f"outcome code `{s.code}` must be an upper-case name", s.code_span,
                                   hint=f"write `{s.code.upper()}`" if s.code.upper() != s.code else None)
                    ctx.codes.add(s.code)
                return ir.Require(cond, s.code, s.span)
            case ast.If():
                cond = self.expr(s.cond, scope, expected=BOOL)
                self.expect_type(BOOL, cond, s.cond.span, "an `if` condition")
                before = set(ctx.assigned) if ctx.assigned is not None else None
                then = self.block(s.then, scope, ctx)
                after_then = ctx.assigned
                ctx.assigned = set(before) if before is not None else None
                other = self.block(s.other, scope, ctx)
                if after_then is not None and ctx.assigned is not None:
                    ctx.assigned = after_then & ctx.assigned
                return ir.If(cond, then, other, s.span)
            case ast.For():
                t = self.binder_type(s.type)
                inner = Scope(scope)
                slot = self.fresh(s.var)
                inner.names[s.var] = ir.Local(slot, s.var, t, s.span)
                body = self.block(s.body, inner, ctx)
                return ir.For(slot, s.var, t, body, s.span)
            case ast.Assert():
                cond = self.expr(s.cond, scope, expected=BOOL)
                self.expect_type(BOOL, cond, s.cond.span, "an `assert` condition")
                name = f"assert_{ctx.where}_L{s.span.line}"
                if any(p.name == name for p in self.asserts):
                    name = f"{name}_C{s.span.col}"
                self.asserts.append(ir.Property(name, "assert", cond, action=ctx.where, span=s.span))
                return ir.Assert(cond, name, s.span)
        raise AssertionError(s)

    def assign(self, s: ast.Assign, scope: Scope, ctx: Context) -> ir.Stmt | None:
        target = s.target
        local = scope.lookup(target)
        if local is not None or target not in self.var_index:
            decl = self.decl_of.get(target)
            if local is not None:
                what = "a parameter or `let` name"
            elif isinstance(decl, ast.ConstDecl):
                what = "a `const`"
            elif decl is not None:
                what = f"a {_kind_word(decl)}"
            else:
                self.error("E011", f"unknown name `{target}`", s.target_span,
                           hint=did_you_mean(target, self.var_index) or "only state variables (`var`) can be assigned")
                self.expr(s.expr, scope)
                return None
            self.error("E030", f"cannot assign to `{target}`: it is {what}, not a state variable", s.target_span,
                       hint="only `var`s are assigned; use `let` for a local name" if local is None
                       else "parameters and `let` names are immutable; declare a `var` for state")
            self.expr(s.expr, scope)
            return None
        idx = self.var_index[target]
        var = self.vars[idx]
        if ctx.assigned is not None and s.path and target not in ctx.assigned:
            self.error("E031", f"`{target}` is updated in part before it is assigned as a whole", s.target_span,
                       hint=f"assign all of `{target}` first, e.g. `{target} = map x: T. ...`")
        place: Type = var.type
        path: list[ir.PathIndex | ir.PathField] = []
        place_text = target
        for step in s.path:
            if isinstance(step, ast.LvIndex):
                key = self.expr(step.key, scope)
                if isinstance(place, ir.MapType):
                    self.expect_type(place.key, key, step.key.span, f"a key of `{place_text}`")
                    path.append(ir.PathIndex(key, place))
                    place = place.value
                elif not isinstance(place, ir.AnyType):
                    self.error("E021", f"`{place_text}` has type `{place}`, which is not a map", step.span)
                    place = ANY
                place_text += "[...]"
            else:
                if isinstance(place, ir.RecordType):
                    names = [f for f, _ in place.fields]
                    if step.name in names:
                        i = names.index(step.name)
                        path.append(ir.PathField(i, step.name))
                        place = place.fields[i][1]
                    else:
                        self.error("E013", f"record `{place}` has no field `{step.name}`", step.span,
                                   hint=did_you_mean(step.name, names) or "fields: " + ", ".join(names))
                        place = ANY
                elif not isinstance(place, ir.AnyType):
                    self.error("E022", f"`{place_text}` has type `{place}`, which is not a record", step.span)
                    place = ANY
                place_text += f".{step.name}"
        value = self.expr(s.expr, scope, expected=place)
        self.expect_type(place, value, s.expr.span, f"`{place_text}`")
        value = self.store(value, place, f"the assignment to `{place_text}`", s.expr.span)
        if ctx.assigned is not None and not s.path:
            ctx.assigned.add(target)
        if any(isinstance(p, ir.AnyType) for p in [place]) and path and isinstance(place, ir.AnyType):
            return None
        return ir.Assign(idx, target, tuple(path), value, s.span)

    def store(self, value: ir.Expr, place: Type, what: str, span: Span) -> ir.Expr:
        if assignable(place, value.type) and needs_check(place, value.type):
            return ir.Fits(value, place, what, span)
        return value

    # ------------------------------------------------------------------ properties
    def prop_expr(self, e: ast.Expr, transition: bool) -> ir.Expr:
        self.in_transition = transition
        self.reading_init = None
        out = self.expr(e, Scope(None), expected=BOOL)
        self.expect_type(BOOL, out, e.span, "a property")
        self.in_transition = False
        return out

    def expects(self, decls: tuple[ast.Decl, ...], props: list[ir.Property]) -> list[ir.Expect]:
        by_name = {p.name: p for p in props}
        out = []
        seen: dict[str, Span] = {}
        for d in decls:
            if not isinstance(d, ast.ExpectDecl):
                continue
            p = by_name.get(d.name)
            if p is None:
                self.error("E017", f"`expect` names `{d.name}`, which is not a property", d.name_span,
                           hint=did_you_mean(d.name, by_name) or "properties: " + ", ".join(sorted(by_name)))
                continue
            if d.name in seen:
                self.error("E039", f"`{d.name}` already has an `expect` line", d.name_span,
                           notes=(Note("the first one is here", seen[d.name]),))
                continue
            seen[d.name] = d.span
            good = ("reachable", "unreachable") if p.kind == "cover" else ("holds", "violated")
            if d.kind not in good:
                what = {"cover": "a cover", "invariant": "an invariant", "transition": "a transition property",
                        "assert": "an `assert`", "well_defined": "the built-in well-definedness property"}[p.kind]
                self.error("E039", f"`{d.name}` is {what}; expect it `{good[0]}` or `{good[1]}`, not `{d.kind}`",
                           d.span)
                continue
            if d.within is not None and d.within < 0:
                self.error("E039", "`within` takes a number of steps >= 0", d.span)
            out.append(ir.Expect(d.name, d.kind, d.within, d.span))
        return out


def _kind_word(decl: ast.Decl) -> str:
    return {
        ast.TypeDecl: "type", ast.EnumDecl: "enum", ast.RecordDecl: "record", ast.DefDecl: "`def`",
        ast.ActionDecl: "action", ast.InvariantDecl: "invariant", ast.TransitionDecl: "transition",
        ast.CoverDecl: "cover",
    }.get(type(decl), "declaration")

