"""Why a property is false (or a cover true) in a trace's last state: the sub-terms that decide it.

In: an `ir.Spec`, a `Result` (VIOLATED invariant or transition, REACHABLE cover), an
`Interpreter` and, optionally, the spec's source text. Out: an `Explanation` tree — each
node is a sub-term as written (its source text, or an IR pretty-print when no text is
given), its value in that state, and the sub-terms that decide that value:
`and` -> its false conjuncts, `or` -> all its disjuncts, `implies` -> the true premise and
the false conclusion, `not` -> its argument, a comparison -> both sides with their values,
`forall` -> the first binding (in domain order) that makes the body false, `exists` (for a
cover) -> the first binding that makes it true, a call of a def -> its body with the
arguments bound. `explain_require` says which `require` stopped a step.
Guarantees: deterministic; evaluates only sub-terms the interpreter itself would evaluate
or that are well defined (an ill-defined sub-term is left out, never raised); no z3.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from checker import ir
from checker.interp import Interpreter, SpecRuntimeError, State
from checker.result import Result, Step, Verdict
from checker.source import Span
from checker.values import show

_COMPARE = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">=", "in": "in",
            "subset": "<=", "psubset": "<"}
_SYMBOL = {**_COMPARE, "and": "and", "or": "or", "implies": "implies", "iff": "iff", "add": "+",
           "sub": "-", "mul": "*", "union": "+", "diff": "-", "inter": "&"}
MAX_NODES = 200  # an explanation is for reading: stop growing it past this many nodes


@dataclass(frozen=True)
class Explanation:
    """One sub-term: `text` as written, `value` as shown (empty for a heading such as a
    binding), and the sub-terms that decide it."""

    text: str
    value: str
    children: tuple[Explanation, ...] = ()

    def lines(self, indent: int = 0) -> list[str]:
        """The tree as indented lines: `text = value`, children two spaces deeper."""
        head = f"{self.text} = {self.value}" if self.value else self.text
        out = [" " * indent + head]
        for c in self.children:
            out.extend(c.lines(indent + 2))
        return out


def explain(spec: ir.Spec, result: Result, interp: Interpreter,
            source_text: str | None = None) -> Explanation | None:
    """The explanation of a violated invariant / transition or a reached cover, in the
    final state of the result's trace (pre-state: the one before it); None otherwise."""
    tr = result.trace
    if tr is None or tr.failure is not None:
        return None
    try:
        prop = spec.property(result.prop)
    except KeyError:
        return None
    if prop.expr is None:
        return None
    if result.verdict is Verdict.VIOLATED and prop.kind in ("invariant", "transition"):
        want = False
    elif result.verdict is Verdict.REACHABLE and prop.kind == "cover":
        want = True
    else:
        return None
    old: State | None = None
    if prop.kind == "transition":
        if not tr.steps:
            return None
        old = tr.steps[-2].state if len(tr.steps) > 1 else tr.init
    ex = _Explainer(spec, interp, source_text, tr.final, old)
    try:
        return ex.why(prop.expr, {}, want)
    except SpecRuntimeError:
        return None


def explain_require(spec: ir.Spec, state: State, step: Step, interp: Interpreter | None = None,
                    source_text: str | None = None) -> str:
    """Which `require` stopped `step` (taken in `state`, the state before it), with the
    values of its condition's sub-terms when they can be evaluated: one line of text."""
    if step.failed is None or step.outcome == "ok":
        return ""
    try:
        action = spec.action(step.action)
    except KeyError:
        return f"a `require` at line {step.failed.line} is false"
    interp = interp or Interpreter(spec)
    env: dict[str, Any] = {p.slot: v for p, (_, v) in zip(action.params, step.args, strict=False)}
    req: ir.Require | None = None
    for s in action.body:  # lets before the require, at the top level, are bound as the step bound them
        if isinstance(s, ir.Require) and _same_span(s.span, step.failed):
            req = s
            break
        if isinstance(s, ir.Let):
            try:
                env[s.slot] = interp.eval(s.expr, state, env)
            except SpecRuntimeError:
                break
        elif not isinstance(s, ir.Require):
            break  # an assignment or a block: the state may differ from here on
    if req is None:
        req = _find_require(action.body, step.failed)
    if req is None:
        return f"a `require` at line {step.failed.line} is false"
    ex = _Explainer(spec, interp, source_text, state, None)
    cond = ex.text(req.cond)
    code = f" else {req.code}" if req.code else ""
    head = f"`require {cond}{code}` (line {req.span.line}) is false"
    try:
        tree = ex.why(req.cond, env, True)
    except (SpecRuntimeError, KeyError):
        return head
    facts = [n for n in _leaves(tree) if n.value and n.text != tree.text]
    if not facts:
        return head
    return head + ": " + ", ".join(f"{n.text} = {n.value}" for n in facts)


def _leaves(e: Explanation) -> list[Explanation]:
    if not e.children:
        return [e]
    out: list[Explanation] = []
    for c in e.children:
        out.extend(_leaves(c))
    return out


def _same_span(a: Span, b: Span) -> bool:
    return (a.line, a.col, a.end_line, a.end_col) == (b.line, b.col, b.end_line, b.end_col)


def _find_require(stmts: tuple[ir.Stmt, ...], span: Span) -> ir.Require | None:
    for s in stmts:
        match s:
            case ir.Require() if _same_span(s.span, span):
                return s
            case ir.If(then=a, other=b):
                found = _find_require(a, span) or _find_require(b, span)
                if found:
                    return found
            case ir.For(body=b):
                found = _find_require(b, span)
                if found:
                    return found
    return None


class _Explainer:
    def __init__(self, spec: ir.Spec, interp: Interpreter, source_text: str | None,
                 state: State, old: State | None) -> None:
        self.spec = spec
        self.interp = interp
        self.lines = source_text.splitlines() if source_text is not None else None
        self.state = state
        self.old = old
        self.nodes = 0

    # ------------------------------------------------------------------ values and text
    def value(self, e: ir.Expr, env: dict[str, Any]) -> Any:
        return self.interp.eval(e, self.state, env, self.old)

    def show(self, v: Any, t: ir.Type) -> str:
        try:
            return show(v, t)
        except (TypeError, ValueError):
            return repr(v)

    def text(self, e: ir.Expr) -> str:
        sp = e.span
        if self.lines is not None and sp.line >= 1 and (sp.end_line, sp.end_col) > (sp.line, sp.col) \
                and sp.end_line <= len(self.lines):
            if sp.line == sp.end_line:
                t = self.lines[sp.line - 1][sp.col - 1:sp.end_col - 1]
            else:
                parts = [self.lines[sp.line - 1][sp.col - 1:]]
                parts.extend(self.lines[sp.line:sp.end_line - 1])
                parts.append(self.lines[sp.end_line - 1][:sp.end_col - 1])
                t = " ".join(_strip_comment(p).strip() for p in parts)
            t = " ".join(t.split())
            if t:
                return t
        return pretty(e)

    # ------------------------------------------------------------------ the descent
    def why(self, e: ir.Expr, env: dict[str, Any], want: bool) -> Explanation:
        """Explain e (a bool) under env: its value and the sub-terms that decide it."""
        self.nodes += 1
        v = self.value(e, env)
        node_text = self.text(e)
        if self.nodes > MAX_NODES:
            return Explanation(node_text, self.show(v, e.type))
        kids = tuple(self._children(e, env, v))
        return Explanation(node_text, self.show(v, e.type), kids)

    def leaf(self, e: ir.Expr, env: dict[str, Any]) -> Explanation | None:
        try:
            return Explanation(self.text(e), self.show(self.value(e, env), e.type))
        except SpecRuntimeError:
            return None

    def _try_why(self, e: ir.Expr, env: dict[str, Any], want: bool) -> Explanation | None:
        try:
            return self.why(e, env, want)
        except SpecRuntimeError:
            return None

    def _children(self, e: ir.Expr, env: dict[str, Any], v: Any) -> list[Explanation]:  # noqa: C901
        out: list[Explanation] = []
        match e:
            case ir.Binary(op="and" | "or" as op):
                parts = _flatten(e, op)
                if (op == "and") == bool(v):
                    # and true / or false: every part has the value of the whole
                    picks = parts
                else:
                    picks = []
                    for p in parts:  # the parts that decide it, up to the first one (short-circuit)
                        try:
                            pv = bool(self.value(p, env))
                        except SpecRuntimeError:
                            continue
                        if pv == bool(v):
                            picks.append(p)
                for p in picks:
                    x = self._try_why(p, env, bool(v))
                    if x is not None:
                        out.append(x)
            case ir.Binary(op="implies", left=a, right=b):
                av = self.value(a, env)
                if not av:
                    x = self._try_why(a, env, False)
                    if x is not None:
                        out.append(x)
                else:
                    for p in (a, b):
                        x = self._try_why(p, env, bool(self.value(p, env)))
                        if x is not None:
                            out.append(x)
            case ir.Binary(op="iff", left=a, right=b):
                for p in (a, b):
                    x = self._try_why(p, env, bool(self.value(p, env)))
                    if x is not None:
                        out.append(x)
            case ir.Binary(op=op, left=a, right=b) if op in _COMPARE:
                for p in (a, b):
                    x = self.leaf(p, env)
                    if x is not None and x.text != x.value:  # a literal says its value already
                        out.append(x)
            case ir.Unary(op="not", arg=a):
                x = self._try_why(a, env, not v)
                if x is not None:
                    out.append(x)
            case ir.Ite(cond=c, then=a, other=b):
                cv = self.value(c, env)
                x = self._try_why(c, env, bool(cv))
                if x is not None:
                    out.append(x)
                branch = a if cv else b
                if isinstance(branch.type, ir.BoolType):
                    x = self._try_why(branch, env, bool(v))
                else:
                    x = self.leaf(branch, env)
                if x is not None:
                    out.append(x)
            case ir.Quant(kind="forall" | "exists" as kind):
                # forall false / exists true: a witness decides it; otherwise every binding does
                if (kind == "forall") != bool(v):
                    w = self._witness(e, env, bool(v))
                    if w is not None:
                        out.append(w)
            case ir.Call(func=name, args=xs):
                try:
                    d = self.spec.def_(name)
                except KeyError:
                    return out
                vals = [self.value(x, env) for x in xs]
                env2 = dict(env)
                for prm, a in zip(d.params, vals, strict=True):
                    env2[prm.slot] = a
                shown = ", ".join(f"{q.name} = {self.show(a, q.type)}" for q, a in zip(d.params, vals, strict=True))
                body = _unfits(d.body)
                if isinstance(body.type, ir.BoolType):
                    x = self._try_why(body, env2, bool(v))
                    kids = (x,) if x is not None else ()
                else:
                    y = self.leaf(body, env2)
                    kids = (y,) if y is not None else ()
                out.append(Explanation(f"{name}({shown}) is", "", kids))
            case ir.Fits(expr=x):
                y = self._try_why(x, env, bool(v)) if isinstance(x.type, ir.BoolType) else self.leaf(x, env)
                if y is not None:
                    out.append(y)
        return out

    def _witness(self, q: ir.Quant, env: dict[str, Any], value: bool) -> Explanation | None:
        """The first binding of q's (nested, same-kind) binders under which its body has
        the value of the whole quantifier (false for forall, true for exists)."""
        binders: list[ir.Quant] = [q]
        body: ir.Expr = q.body
        while isinstance(body, ir.Quant) and body.kind == q.kind:
            inner: ir.Quant = body
            binders.append(inner)
            body = inner.body

        def search(i: int, env: dict[str, Any]) -> dict[str, Any] | None:
            if i == len(binders):
                try:
                    return env if bool(self.value(body, env)) == value else None
                except SpecRuntimeError:
                    return None
            b = binders[i]
            for x in ir.all_values(b.domain):
                found = search(i + 1, {**env, b.slot: x})
                if found is not None:
                    return found
            return None

        found = search(0, env)
        if found is None:
            return None
        binding = ", ".join(f"{b.name} = {self.show(found[b.slot], b.domain)}" for b in binders)
        x = self._try_why(body, found, value)
        return Explanation(f"for {binding}:", "", (x,) if x is not None else ())


def _unfits(e: ir.Expr) -> ir.Expr:
    while isinstance(e, ir.Fits):
        e = e.expr
    return e


def _flatten(e: ir.Expr, op: str) -> list[ir.Expr]:
    if isinstance(e, ir.Binary) and e.op == op:
        return _flatten(e.left, op) + _flatten(e.right, op)
    return [e]


def _strip_comment(line: str) -> str:
    i = line.find("//")
    return line if i < 0 else line[:i]


# ----------------------------------------------------------------------------- fallback printer
def pretty(e: ir.Expr) -> str:  # noqa: C901 - one case per IR node
    """A compact rendering of an IR expression (used when no source text is at hand)."""
    match e:
        case ir.Const(value=v, type=t):
            try:
                return show(v, t)
            except (TypeError, ValueError):
                return repr(v)
        case ir.Var(name=n) | ir.Local(name=n):
            return n
        case ir.Index(base=b, key=k):
            return f"{_atom(b)}[{pretty(k)}]"
        case ir.GetField(base=b, name=n):
            return f"{_atom(b)}.{n}"
        case ir.Unwrap(base=b):
            return f"{_atom(b)}!"
        case ir.MakeSome(expr=x):
            return f"some({pretty(x)})"
        case ir.MakeRecord(fields=fs, type=t):
            names = [n for n, _ in t.fields] if isinstance(t, ir.RecordType) else [str(i) for i in range(len(fs))]
            return f"{t} {{ " + ", ".join(f"{n}: {pretty(x)}" for n, x in zip(names, fs, strict=False)) + " }"
        case ir.WithFields(base=b, updates=ups, type=t):
            names = [n for n, _ in t.fields] if isinstance(t, ir.RecordType) else []
            inner = ", ".join(f"{names[i] if i < len(names) else i}: {pretty(x)}" for i, x in ups)
            return f"{_atom(b)} with {{ {inner} }}"
        case ir.MakeSet(elems=xs):
            return "{" + ", ".join(pretty(x) for x in xs) + "}"
        case ir.Binary(op=op, left=a, right=b):
            return f"{_atom(a)} {_SYMBOL.get(op, op)} {_atom(b)}"
        case ir.Unary(op="not", arg=a):
            return f"not {_atom(a)}"
        case ir.Unary(arg=a):
            return f"-{_atom(a)}"
        case ir.Ite(cond=c, then=a, other=b):
            return f"if {pretty(c)} then {pretty(a)} else {pretty(b)}"
        case ir.Quant(kind=k, name=n, domain=d, body=b):
            return f"{k} {n}: {d}. {pretty(b)}"
        case ir.Call(func=f, args=xs):
            return f"{f}(" + ", ".join(pretty(x) for x in xs) + ")"
        case ir.Old(expr=x):
            return f"old({pretty(x)})"
        case ir.Fits(expr=x):
            return pretty(x)
    return "?"


def _atom(e: ir.Expr) -> str:
    s = pretty(e)
    return f"({s})" if isinstance(e, ir.Binary | ir.Quant | ir.Ite | ir.Unary) else s
