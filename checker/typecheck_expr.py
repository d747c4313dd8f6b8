"""The expression half of the type checker: names, constants, types and typing rules.

In: ast expressions and type expressions, a lexical `Scope`. Out: typed `ir.Expr` /
`ir.Type`; diagnostics appended to `self.diags`. An expression that has an error gets the
type `?` (ir.ANY), which every later check accepts, so each mistake is reported once.
Used only as the base class of typecheck._Checker.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from checker import ast, ir
from checker.diagnostics import Diagnostic, Note, did_you_mean
from checker.ir import ANY, BOOL, INT, Type
from checker.source import Span
from checker.types import assignable, is_int_type, join, needs_check

INT_LIMIT = 1 << 62  # constants beyond this are surely a mistake (and z3-unfriendly)


@dataclass
class Scope:
    parent: Scope | None
    names: dict[str, ir.Local] = field(default_factory=dict)

    def lookup(self, name: str) -> ir.Local | None:
        s: Scope | None = self
        while s is not None:
            if name in s.names:
                return s.names[name]
            s = s.parent
        return None

    def all_names(self) -> set[str]:
        out: set[str] = set()
        s: Scope | None = self
        while s is not None:
            out |= set(s.names)
            s = s.parent
        return out


class ExprChecker:
    def __init__(self, path: str) -> None:
        self.path = path
        self.diags: list[Diagnostic] = []
        self.decl_of: dict[str, ast.Decl] = {}
        self.overrides: dict[str, int] = {}
        self.const_values: dict[str, int] = {}
        self.const_busy: set[str] = set()
        self.const_stack: list[str] = []
        self.const_cycle_reported: set[str] = set()
        self.types: dict[str, Type] = {}
        self.type_busy: set[str] = set()
        self.members: dict[str, list[ir.EnumType]] = {}
        self.var_index: dict[str, int] = {}
        self.vars: tuple[ir.StateVar, ...] = ()
        self.def_sigs: dict[str, tuple[tuple[ir.Param, ...], Type]] = {}
        self.defs: dict[str, ir.Def] = {}
        self.def_done: set[str] = set()
        self.calls: dict[str, set[str]] = {}
        self.current_def: str | None = None
        self.in_transition = False
        self.in_old = False
        self.reading_init: set[str] | None = None
        self.action_names: set[str] = set()
        self._counter = 0

    # ------------------------------------------------------------------ helpers
    def error(self, code: str, message: str, span: Span, hint: str | None = None,
              notes: tuple[Note, ...] = ()) -> None:
        self.diags.append(Diagnostic(code, message, span, hint=hint, notes=notes))

    def fresh(self, name: str) -> str:
        self._counter += 1
        return f"{name}#{self._counter}"

    def expect_type(self, expected: Type, e: ir.Expr, span: Span, what: str) -> bool:
        if assignable(expected, e.type):
            return True
        hint = None
        if isinstance(expected, ir.OptionType) and assignable(expected.elem, e.type):
            hint = "wrap the value: `some(...)`"
        elif isinstance(e.type, ir.OptionType) and assignable(expected, e.type.elem):
            hint = "unwrap the option with `!` (after checking it is not `none`)"
        self.error("E020", f"type mismatch in {what}: expected `{expected}`, found `{e.type}`", span, hint=hint)
        return False

    # ------------------------------------------------------------------ constants
    def const_value(self, name: str) -> int | None:
        if name in self.const_values:
            return self.const_values[name]
        decl = self.decl_of.get(name)
        if not isinstance(decl, ast.ConstDecl):
            return None
        if name in self.overrides:
            self.const_values[name] = self.overrides[name]
            return self.overrides[name]
        if name in self.const_busy:
            if name not in self.const_cycle_reported:
                cycle = self.const_stack[self.const_stack.index(name):] + [name]
                self.const_cycle_reported.update(cycle)
                self.error("E018", f"the value of const `{name}` depends on itself: " + " -> ".join(cycle),
                           decl.name_span, hint="give one of these consts a literal value")
            return None
        if name in self.const_cycle_reported:
            return None
        self.const_busy.add(name)
        self.const_stack.append(name)
        v = self.const_eval(decl.expr)
        self.const_stack.pop()
        self.const_busy.discard(name)
        if v is not None:
            self.const_values[name] = v
        return v

    def const_eval(self, e: ast.Expr) -> int | None:
        """Fold an integer constant expression (literals, consts, + - *, unary -)."""
        match e:
            case ast.IntLit(value=v):
                return self.int_in_limit(v, e.span)
            case ast.Name(name=n):
                decl = self.decl_of.get(n)
                if isinstance(decl, ast.ConstDecl):
                    return self.const_value(n)
                if decl is None:
                    self.error("E011", f"unknown name `{n}`", e.span, hint=did_you_mean(
                        n, [k for k, d in self.decl_of.items() if isinstance(d, ast.ConstDecl)]))
                else:
                    self.error("E028", f"`{n}` is not a constant; only `const` names may appear here", e.span)
                return None
            case ast.Unary(op="-", arg=operand):
                neg = self.const_eval(operand)
                return None if neg is None else -neg
            case ast.Binary(op=op, left=lft, right=rgt) if op in ("+", "-", "*"):
                x, y = self.const_eval(lft), self.const_eval(rgt)
                if x is None or y is None:
                    return None
                r = x + y if op == "+" else x - y if op == "-" else x * y
                return self.int_in_limit(r, e.span)
        self.error("E028", "expected an integer constant expression (literals, consts, + - *)", e.span)
        return None

    def int_in_limit(self, v: int, span: Span) -> int | None:
        if abs(v) >= INT_LIMIT:
            self.error("E028", f"integer constant {v} is too large", span, hint="constants must stay below 2^62")
            return None
        return v

    # ------------------------------------------------------------------ types
    def named_type(self, name: str, span: Span) -> Type:
        if name in self.types:
            return self.types[name]
        decl = self.decl_of.get(name)
        if not isinstance(decl, ast.TypeDecl | ast.EnumDecl | ast.RecordDecl):
            type_names = [n for n, d in self.decl_of.items() if isinstance(d, ast.TypeDecl | ast.EnumDecl | ast.RecordDecl)]
            if decl is None:
                hint = did_you_mean(name, type_names + ["bool"])
                if name in ("int", "integer", "nat", "uint", "u8", "u16", "u32", "u64", "usize"):
                    hint = "there is no unbounded integer type: every state type is finite; use a range such as `0 .. 7`"
                self.error("E012", f"unknown type `{name}`", span, hint=hint)
            else:
                self.error("E012", f"`{name}` is not a type", span, hint=did_you_mean(name, type_names))
            return ANY
        if name in self.type_busy:
            self.error("E018", f"type `{name}` is defined in terms of itself", decl.name_span)
            return ANY
        self.type_busy.add(name)
        t: Type
        if isinstance(decl, ast.EnumDecl):
            seen_m: set[str] = set()
            for m, msp in zip(decl.members, decl.member_spans or (decl.span,) * len(decl.members), strict=True):
                if m in seen_m:
                    self.error("E010", f"enum `{name}` lists `{m}` twice", msp, hint="remove the repeated member")
                seen_m.add(m)
            if not decl.members:
                self.error("E027", f"enum `{name}` has no members", decl.span)
            t = ir.EnumType(name, tuple(dict.fromkeys(decl.members)))
        elif isinstance(decl, ast.RecordDecl):
            fields: list[tuple[str, Type]] = []
            for f in decl.fields:
                if any(f.name == g for g, _ in fields):
                    self.error("E010", f"record `{name}` declares field `{f.name}` twice", f.span)
                    continue
                fields.append((f.name, self.resolve_type(f.type)))
            t = ir.RecordType(name, tuple(fields))
        else:
            inner = self.resolve_type(decl.type)
            t = ir.RangeType(inner.lo, inner.hi, name) if isinstance(inner, ir.RangeType) else inner
        self.type_busy.discard(name)
        self.types[name] = t
        return t

    def resolve_type(self, te: ast.TypeExpr) -> Type:
        match te:
            case ast.TBool():
                return BOOL
            case ast.TName(name=n):
                return self.named_type(n, te.span)
            case ast.TRange(lo=lo_e, hi=hi_e):
                lo, hi = self.const_eval(lo_e), self.const_eval(hi_e)
                if lo is None or hi is None:
                    return ANY
                if lo > hi:
                    self.error("E027", f"empty range {lo} .. {hi}", te.span,
                               hint="a range `LO .. HI` includes both ends and needs LO <= HI"
                               " (check the consts, and any --set override)")
                    return ANY
                return ir.RangeType(lo, hi)
            case ast.TMap(key=k, value=v):
                kt, vt = self.resolve_type(k), self.resolve_type(v)
                if not isinstance(kt, ir.AnyType) and not ir.is_key_type(kt):
                    self.error("E026", f"map keys must be `bool`, a range or an enum, not `{kt}`", k.span)
                    kt = ANY
                return ir.MapType(kt, vt)
            case ast.TSet(elem=e):
                et = self.resolve_type(e)
                if not ir.has_error(et) and not ir.is_finite(et):
                    self.error("E026", f"set elements must have a finite type, not `{et}`", e.span)
                    et = ANY
                return ir.SetType(et)
            case ast.TOption(elem=e):
                return ir.OptionType(self.resolve_type(e))
        raise AssertionError(te)

    def binder_type(self, te: ast.TypeExpr) -> Type:
        t = self.resolve_type(te)
        if not ir.has_error(t) and not ir.is_finite(t):
            self.error("E026", f"cannot range over `{t}`: it is not finite", te.span)
            return ANY
        return t

    # ------------------------------------------------------------------ expressions
    def visible_names(self, scope: Scope) -> Iterable[str]:
        return (scope.all_names() | set(self.var_index) | set(self.const_values)
                | set(self.members) | set(self.def_sigs))

    def expr(self, e: ast.Expr, scope: Scope, expected: Type | None = None) -> ir.Expr:
        match e:
            case ast.IntLit(value=v):
                return ir.Const(v, INT, e.span)
            case ast.BoolLit(value=v):
                return ir.Const(v, BOOL, e.span)
            case ast.NoneLit():
                t = expected if isinstance(expected, ir.OptionType) else ir.OptionType(ANY)
                return ir.Const(None, t, e.span)
            case ast.Name():
                return self.name(e, scope, expected)
            case ast.Field():
                return self.field(e, scope)
            case ast.Index(base=b, key=k):
                base = self.expr(b, scope)
                if isinstance(base.type, ir.AnyType):
                    self.expr(k, scope)
                    return ir.Const(None, ANY, e.span)
                if not isinstance(base.type, ir.MapType):
                    self.error("E021", f"cannot index a value of type `{base.type}`: it is not a map", e.span)
                    self.expr(k, scope)
                    return ir.Const(None, ANY, e.span)
                key = self.expr(k, scope, expected=base.type.key)
                self.expect_type(base.type.key, key, k.span, "a map key")
                return ir.Index(base, key, base.type.value, e.span)
            case ast.Unwrap(base=b):
                base = self.expr(b, scope, expected=ir.OptionType(expected) if expected else None)
                if isinstance(base.type, ir.AnyType):
                    return ir.Const(None, ANY, e.span)
                if not isinstance(base.type, ir.OptionType):
                    self.error("E023", f"`!` unwraps an option, but this has type `{base.type}`", e.span,
                               hint="remove the `!`")
                    return ir.Const(None, ANY, e.span)
                return ir.Unwrap(base, base.type.elem, e.span)
            case ast.SomeE(expr=x):
                inner_exp = expected.elem if isinstance(expected, ir.OptionType) else None
                inner = self.expr(x, scope, expected=inner_exp)
                return ir.MakeSome(inner, ir.OptionType(inner.type), e.span)
            case ast.Old(expr=x):
                if not self.in_transition:
                    self.error("E032", "`old(...)` is allowed only in a `transition` property", e.span,
                               hint="an invariant sees one state; write `transition NAME: ... old(E) ...` to compare two")
                    return self.expr(x, scope, expected)
                if self.in_old:
                    self.error("E032", "`old(...)` inside `old(...)` has no meaning", e.span)
                self.in_old = True
                inner = self.expr(x, scope, expected)
                self.in_old = False
                return ir.Old(inner, inner.type, e.span)
            case ast.SetLit(elems=xs):
                return self.set_lit(e, xs, scope, expected)
            case ast.RecordLit():
                return self.record_lit(e, scope)
            case ast.With(base=b, fields=fs):
                base = self.expr(b, scope)
                if isinstance(base.type, ir.AnyType):
                    return ir.Const(None, ANY, e.span)
                if not isinstance(base.type, ir.RecordType):
                    self.error("E022", f"`with` updates a record, but this has type `{base.type}`", b.span)
                    return ir.Const(None, ANY, e.span)
                updates = self.field_values(base.type, fs, scope, require_all=False)
                return ir.WithFields(base, tuple(updates), base.type, e.span)
            case ast.Binary():
                return self.binary(e, scope)
            case ast.Unary(op="not", arg=a):
                arg = self.expr(a, scope, expected=BOOL)
                self.expect_type(BOOL, arg, a.span, "the operand of `not`")
                return ir.Unary("not", arg, BOOL, e.span)
            case ast.Unary(op="-", arg=a):
                arg = self.expr(a, scope)
                if not is_int_type(arg.type):
                    self.error("E029", f"unary `-` needs an integer, found `{arg.type}`", a.span)
                if isinstance(arg, ir.Const) and isinstance(arg.value, int) and not isinstance(arg.value, bool):
                    return ir.Const(-arg.value, INT, e.span)
                return ir.Unary("neg", arg, INT, e.span)
            case ast.Ite(cond=c, then=a, other=b):
                cond = self.expr(c, scope, expected=BOOL)
                self.expect_type(BOOL, cond, c.span, "an `if` condition")
                then = self.expr(a, scope, expected)
                other = self.expr(b, scope, expected if expected is not None else then.type)
                joined = join(then.type, other.type)
                if joined is None:
                    self.error("E020", f"the branches of `if` have different types: `{then.type}` and `{other.type}`", e.span)
                return ir.Ite(cond, then, other, joined if joined is not None else ANY, e.span)
            case ast.Binder():
                return self.binder(e, scope)
            case ast.Call():
                return self.call(e, scope)
        raise AssertionError(e)

    def name(self, e: ast.Name, scope: Scope, expected: Type | None) -> ir.Expr:
        n = e.name
        local = scope.lookup(n)
        if local is not None:
            return ir.Local(local.slot, n, local.type, e.span)
        if n in self.var_index:
            if self.reading_init is not None and n not in self.reading_init:
                self.error("E031", f"`{n}` is read in `init` before it is assigned", e.span,
                           hint=f"assign `{n}` as a whole earlier in `init`")
            v = self.vars[self.var_index[n]]
            return ir.Var(self.var_index[n], n, v.type, e.span)
        decl = self.decl_of.get(n)
        if isinstance(decl, ast.ConstDecl):
            val = self.const_value(n)
            return ir.Const(val, INT, e.span) if val is not None else ir.Const(None, ANY, e.span)
        if n in self.members:
            cands = self.members[n]
            if len(cands) == 1:
                return ir.Const(n, cands[0], e.span)
            if isinstance(expected, ir.EnumType) and expected in cands:
                return ir.Const(n, expected, e.span)
            self.error("E016", f"`{n}` is a member of several enums: " + ", ".join(sorted(c.name for c in cands)),
                       e.span, hint=f"qualify it: `{sorted(c.name for c in cands)[0]}.{n}`")
            return ir.Const(None, ANY, e.span)
        if isinstance(decl, ast.DefDecl):
            self.error("E014", f"`{n}` is a def; call it with arguments: `{n}(...)`", e.span)
        elif decl is not None:
            self.error("E011", f"`{n}` is not a value", e.span)
        else:
            self.error("E011", f"unknown name `{n}`", e.span, hint=did_you_mean(n, self.visible_names(scope)))
        return ir.Const(None, ANY, e.span)

    def field(self, e: ast.Field, scope: Scope) -> ir.Expr:
        b = e.base
        if isinstance(b, ast.Name) and scope.lookup(b.name) is None and b.name not in self.var_index:
            decl = self.decl_of.get(b.name)
            if isinstance(decl, ast.EnumDecl):
                t = self.types.get(b.name)
                if isinstance(t, ir.EnumType):
                    if e.name in t.members:
                        return ir.Const(e.name, t, e.span)
                    self.error("E013", f"enum `{b.name}` has no member `{e.name}`", e.name_span,
                               hint=did_you_mean(e.name, t.members) or "members: " + ", ".join(t.members))
                return ir.Const(None, ANY, e.span)
        base = self.expr(b, scope)
        if isinstance(base.type, ir.AnyType):
            return ir.Const(None, ANY, e.span)
        if not isinstance(base.type, ir.RecordType):
            hint = "unwrap the option first: `E!.f`" if isinstance(base.type, ir.OptionType) else None
            self.error("E022", f"`.{e.name}` reads a record field, but this has type `{base.type}`", e.span, hint=hint)
            return ir.Const(None, ANY, e.span)
        names = [f for f, _ in base.type.fields]
        if e.name not in names:
            self.error("E013", f"record `{base.type}` has no field `{e.name}`", e.name_span,
                       hint=did_you_mean(e.name, names) or "fields: " + ", ".join(names))
            return ir.Const(None, ANY, e.span)
        i = names.index(e.name)
        return ir.GetField(base, i, e.name, base.type.fields[i][1], e.span)

    def field_values(self, rt: ir.RecordType, inits: tuple[ast.FieldInit, ...], scope: Scope,
                     require_all: bool) -> list[tuple[int, ir.Expr]]:
        names = [f for f, _ in rt.fields]
        got: dict[int, ir.Expr] = {}
        for fi in inits:
            if fi.name not in names:
                self.error("E025", f"record `{rt}` has no field `{fi.name}`", fi.span,
                           hint=did_you_mean(fi.name, names) or "fields: " + ", ".join(names))
                self.expr(fi.expr, scope)
                continue
            i = names.index(fi.name)
            if i in got:
                self.error("E025", f"field `{fi.name}` is given twice", fi.span)
                continue
            ft = rt.fields[i][1]
            v = self.expr(fi.expr, scope, expected=ft)
            self.expect_type(ft, v, fi.expr.span, f"field `{fi.name}` of `{rt}`")
            if assignable(ft, v.type) and needs_check(ft, v.type):
                v = ir.Fits(v, ft, f"field `{fi.name}` of `{rt}`", fi.expr.span)
            got[i] = v
        if require_all:
            missing = [names[i] for i in range(len(names)) if i not in got]
            misspelt = any(fi.name not in names for fi in inits)
            if missing and misspelt:
                return [(-1, ir.Const(None, ANY))] + sorted(got.items())
            if missing:
                return [(-1, ir.Const(missing, ANY))] + sorted(got.items())
        return sorted(got.items())

    def record_lit(self, e: ast.RecordLit, scope: Scope) -> ir.Expr:
        decl = self.decl_of.get(e.type_name)
        rt = self.types.get(e.type_name)
        if not isinstance(decl, ast.RecordDecl) or not isinstance(rt, ir.RecordType):
            recs = [n for n, d in self.decl_of.items() if isinstance(d, ast.RecordDecl)]
            self.error("E012", f"`{e.type_name}` is not a record type", e.name_span, hint=did_you_mean(e.type_name, recs))
            for fi in e.fields:
                self.expr(fi.expr, scope)
            return ir.Const(None, ANY, e.span)
        vals = self.field_values(rt, e.fields, scope, require_all=True)
        if vals and vals[0][0] == -1:
            missing = vals[0][1]
            assert isinstance(missing, ir.Const)
            if missing.value is None:  # a misspelt field, already reported
                return ir.Const(None, ANY, e.span)
            self.error("E025", f"record literal `{rt}` is missing field" + ("s " if len(missing.value) > 1 else " ")
                       + ", ".join(f"`{m}`" for m in missing.value), e.span,
                       hint="every field must be given; to change some fields of an existing record use `E with { f: v }`")
            return ir.Const(None, ANY, e.span)
        return ir.MakeRecord(tuple(v for _, v in vals), rt, e.span)

    def set_lit(self, e: ast.SetLit, xs: tuple[ast.Expr, ...], scope: Scope, expected: Type | None) -> ir.Expr:
        elem_exp = expected.elem if isinstance(expected, ir.SetType) else None
        elems = [self.expr(x, scope, expected=elem_exp) for x in xs]
        t: Type | None = elem_exp if elem_exp is not None and not elems else None
        for x, ex in zip(elems, xs, strict=True):
            if isinstance(x.type, ir.MapType):
                self.error("E026", "set elements must not be maps", ex.span)
            t = x.type if t is None else join(t, x.type)
            if t is None:
                self.error("E020", "the elements of a set literal have different types", ex.span)
                t = ANY
        return ir.MakeSet(tuple(elems), ir.SetType(t if t is not None else ANY), e.span)

    def binary(self, e: ast.Binary, scope: Scope) -> ir.Expr:
        op = e.op
        if op in ("and", "or", "implies", "iff"):
            a = self.expr(e.left, scope, expected=BOOL)
            b = self.expr(e.right, scope, expected=BOOL)
            self.expect_type(BOOL, a, e.left.span, f"the left operand of `{op}`")
            self.expect_type(BOOL, b, e.right.span, f"the right operand of `{op}`")
            return ir.Binary(op, a, b, BOOL, e.span)
        if op in ("==", "!="):
            if isinstance(e.left, ast.NoneLit | ast.SetLit):
                b = self.expr(e.right, scope)
                a = self.expr(e.left, scope, expected=b.type)
            else:
                a = self.expr(e.left, scope)
                b = self.expr(e.right, scope, expected=a.type)
            if join(a.type, b.type) is None:
                hint = None
                if isinstance(a.type, ir.OptionType) and assignable(a.type.elem, b.type):
                    hint = "compare with `some(...)`, or unwrap the option with `!`"
                self.error("E020", f"cannot compare `{a.type}` with `{b.type}`", e.span, hint=hint)
            return ir.Binary("eq" if op == "==" else "ne", a, b, BOOL, e.span)
        if op in ("in", "not in"):
            b = self.expr(e.right, scope)
            if isinstance(b.type, ir.AnyType):
                self.expr(e.left, scope)
                return ir.Const(None, ANY, e.span)
            if not isinstance(b.type, ir.SetType):
                self.error("E024", f"`{op}` needs a set on the right, found `{b.type}`", e.right.span)
                self.expr(e.left, scope)
                return ir.Const(None, ANY, e.span)
            a = self.expr(e.left, scope, expected=b.type.elem)
            self.expect_type(b.type.elem, a, e.left.span, f"the element tested by `{op}`")
            r = ir.Binary("in", a, b, BOOL, e.span)
            return r if op == "in" else ir.Unary("not", r, BOOL, e.span)
        a = self.expr(e.left, scope)
        b = self.expr(e.right, scope, expected=a.type if isinstance(a.type, ir.SetType) else None)
        if isinstance(a.type, ir.SetType) and isinstance(b.type, ir.AnyType | ir.SetType) or (
                isinstance(b.type, ir.SetType) and isinstance(a.type, ir.AnyType)):
            return self.set_op(e, a, b)
        if op in ("+", "-", "*", "<", "<=", ">", ">="):
            ok = True
            for x, side in ((a, e.left), (b, e.right)):
                if not is_int_type(x.type):
                    self.error("E029", f"`{op}` needs integers (or sets), found `{x.type}`", side.span)
                    ok = False
            if not ok:
                return ir.Const(None, ANY if op in "+-*" else BOOL, e.span)
            if op == "*" and not (isinstance(a, ir.Const) or isinstance(b, ir.Const)):
                self.error("E029", "`*` needs a constant on one side", e.span,
                           hint="multiplication of two variables is not supported: write `A * K` with K a const or literal")
            names = {"+": "add", "-": "sub", "*": "mul", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
            if isinstance(a, ir.Const) and isinstance(b, ir.Const) and isinstance(a.value, int) and isinstance(b.value, int):
                return _fold(names[op], a.value, b.value, e.span)
            return ir.Binary(names[op], a, b, INT if op in "+-*" else BOOL, e.span)
        if op == "&":
            self.error("E029", f"`&` intersects sets, found `{a.type}` and `{b.type}`", e.span)
            return ir.Const(None, ANY, e.span)
        raise AssertionError(op)

    def set_op(self, e: ast.Binary, a: ir.Expr, b: ir.Expr) -> ir.Expr:
        t = join(a.type, b.type)
        if t is None:
            self.error("E020", f"cannot combine `{a.type}` with `{b.type}`", e.span)
            t = ANY
        ops = {"+": "union", "-": "diff", "&": "inter", "<=": "subset", "<": "psubset",
               ">=": "subset", ">": "psubset"}
        if e.op not in ops:
            self.error("E029", f"`{e.op}` is not defined on sets", e.span,
                       hint="sets support + (union), - (difference), & (intersection), <= (subset), in")
            return ir.Const(None, ANY, e.span)
        if e.op in (">=", ">"):
            return ir.Binary(ops[e.op], b, a, BOOL, e.span)
        return ir.Binary(ops[e.op], a, b, BOOL if e.op in ("<=", "<") else t, e.span)

    def binder(self, e: ast.Binder, scope: Scope) -> ir.Expr:
        inner = Scope(scope)
        slots: list[tuple[str, str, Type]] = []
        for bnd in e.bindings:
            t = self.binder_type(bnd.type)
            if e.kind == "map" and not isinstance(t, ir.AnyType) and not ir.is_key_type(t):
                self.error("E026", f"`map` keys must be `bool`, a range or an enum, not `{t}`", bnd.type.span)
                t = ANY
            slot = self.fresh(bnd.name)
            inner.names[bnd.name] = ir.Local(slot, bnd.name, t, bnd.span)
            slots.append((slot, bnd.name, t))
        body = self.expr(e.body, inner, expected=BOOL if e.kind != "map" else None)
        if e.kind != "map":
            self.expect_type(BOOL, body, e.body.span, f"the body of `{e.kind}`")
        result: ir.Expr = body
        for i, (slot, name, t) in enumerate(reversed(slots)):
            if e.kind == "map":
                rt: Type = ir.MapType(t, result.type)
                result = ir.Quant("map", slot, name, t, result, rt, e.span)
            elif e.kind == "count":
                if i == 0:
                    result = ir.Quant("count", slot, name, t, result, INT, e.span)
                else:  # count over several binders: sum of the inner counts
                    result = ir.Quant("sum", slot, name, t, result, INT, e.span)
            else:
                result = ir.Quant(e.kind, slot, name, t, result, BOOL, e.span)
        return result

    def call(self, e: ast.Call, scope: Scope) -> ir.Expr:
        sig = self.def_sigs.get(e.func)
        if sig is None:
            decl = self.decl_of.get(e.func)
            if decl is not None:
                self.error("E014", f"`{e.func}` is not a def and cannot be called", e.func_span)
            else:
                self.error("E014", f"unknown function `{e.func}`", e.func_span,
                           hint=did_you_mean(e.func, self.def_sigs))
            for a in e.args:
                self.expr(a, scope)
            return ir.Const(None, ANY, e.span)
        params, result = sig
        if len(e.args) != len(params):
            self.error("E015", f"`{e.func}` takes {len(params)} argument{'s' if len(params) != 1 else ''}, "
                       f"given {len(e.args)}", e.span,
                       hint=f"{e.func}(" + ", ".join(f"{p.name}: {p.type}" for p in params) + ")")
            for a in e.args:
                self.expr(a, scope)
            return ir.Const(None, ANY, e.span)
        if self.current_def is not None:
            self.calls.setdefault(self.current_def, set()).add(e.func)
        args = []
        for a, p in zip(e.args, params, strict=True):
            v = self.expr(a, scope, expected=p.type)
            self.expect_type(p.type, v, a.span, f"argument `{p.name}` of `{e.func}`")
            if assignable(p.type, v.type) and needs_check(p.type, v.type):
                v = ir.Fits(v, p.type, f"argument `{p.name}` of `{e.func}`", a.span)
            args.append(v)
        return ir.Call(e.func, tuple(args), result, e.span)


def _fold(op: str, a: int, b: int, span: Span) -> ir.Const:
    if op == "add":
        return ir.Const(a + b, INT, span)
    if op == "sub":
        return ir.Const(a - b, INT, span)
    if op == "mul":
        return ir.Const(a * b, INT, span)
    r = {"lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}[op]
    return ir.Const(r, BOOL, span)
