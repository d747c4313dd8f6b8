"""A hypothesis strategy that builds small, mostly well-typed `.tee` spec texts.

Used by test_differential.py to compare the two semantics of the language (interp.py and
the z3 encoding). Every spec declares the same small types (`R = 0 .. 2`, `S = 0 .. 1`, an
enum `E` of 2-3 members, `record Rec { a: R, b: bool }`) and 1-3 state variables drawn from
bool, R, E, `S -> R`, `E -> bool`, `option R`, `set S` and Rec. Actions draw their statements from
assignments (whole, map element, record field), `let`, `require` (with and without
`else CODE`), `if`/`else if`/`else`, `for`, and a trailing `assert`; expressions from
arithmetic (`+`, `-`, `* K`), comparisons, `count`/`forall`/`exists`, map literals, `with`,
`some`/`none`, `!` (also of options that may be `none`), set union/difference/intersection,
`if ... then ... else` and a `def`.
Out-of-range stores and unwraps of `none` are generated on purpose: they exercise the
built-in property `well_defined`.

`assert` is generated only as the last top-level statement of an action: see
test_differential.py for the known disagreement of the two semantics on statements that
follow a false `assert`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

# generator types: bool, R (0..2; also any int expression), S (0..1, keys), E, M (S -> R),
# O (option R), ST (set S), Rec
TYPE_TEXT = {"bool": "bool", "R": "R", "S": "S", "E": "E", "M": "S -> R", "ME": "E -> bool", "O": "option R",
             "ST": "set S", "Rec": "Rec"}
VAR_TYPES = ("bool", "R", "E", "M", "O", "ST", "Rec", "ME")
PARAM_TYPES = ("R", "S", "bool", "E")
CODES = ("FAIL_A", "FAIL_B")


@dataclass
class Ctx:
    vars: list[tuple[str, str]]
    locals: list[tuple[str, str]] = field(default_factory=list)
    members: tuple[str, ...] = ("A", "B")
    transition: bool = False  # old(...) allowed
    defs: list[tuple[str, str, str]] = field(default_factory=list)  # (name, param type, result type)
    counter: list[int] = field(default_factory=lambda: [0])

    def fresh(self, prefix: str) -> str:
        self.counter[0] += 1
        return f"{prefix}{self.counter[0]}"

    def with_local(self, name: str, tag: str) -> Ctx:
        return Ctx(self.vars, self.locals + [(name, tag)], self.members, self.transition, self.defs, self.counter)


class Gen:
    """Draws pieces of spec text; `draw` is hypothesis' draw function."""

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw
        # how often an expression may go wrong (unwrap of none, key or store out of range):
        # each action has several statements, so this stays small to keep specs moving
        self.hazard = (0.0, 0.04, 0.1)[self.n(0, 2)]

    def pick(self, xs: list[str] | tuple[str, ...]) -> str:
        return self.draw(st.sampled_from(list(xs)))

    def n(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))

    def chance(self, p: float) -> bool:
        return self.draw(st.integers(0, 99)) < int(p * 100)

    def var_ref(self, cx: Ctx, tag: str) -> str | None:
        """A variable or local of this tag; in a transition, maybe under old()."""
        cands = [n for n, t in cx.locals if t == tag] + [n for n, t in cx.vars if t == tag]
        if not cands:
            return None
        name = self.pick(cands)
        if cx.transition and name in {n for n, _ in cx.vars} and self.chance(0.4):
            return f"old({name})"
        return name

    def var_of(self, cx: Ctx, tag: str) -> str | None:
        """A state variable of this tag (for field/element reads)."""
        cands = [n for n, t in cx.vars if t == tag]
        if not cands:
            return None
        name = self.pick(cands)
        if cx.transition and self.chance(0.4):
            return f"old({name})"
        return name

    # ------------------------------------------------------------------ expressions
    def expr(self, cx: Ctx, tag: str, depth: int) -> str:
        fn = {"bool": self.bool_e, "R": self.int_e, "S": self.key_e, "E": self.enum_e, "M": self.map_e, "ME": self.emap_e,
              "O": self.opt_e, "ST": self.set_e, "Rec": self.rec_e}[tag]
        return fn(cx, depth)

    def int_e(self, cx: Ctx, depth: int) -> str:
        leaves: list[str] = []  # state and locals first: hypothesis' simplest choice
        for tag in ("R", "S"):
            r = self.var_ref(cx, tag)
            if r:
                leaves += [r, r, r]
        leaves.append(str(self.n(0, 2)))
        if self.chance(self.hazard):
            leaves.append(self.pick(["3", "-1"]))
        r = self.var_of(cx, "Rec")
        if r:
            leaves.append(f"{r}.a")
        m = self.var_of(cx, "M")
        if m:
            leaves.append(f"{m}[{self.key_e(cx, 0)}]")
        o = self.var_of(cx, "O")
        if o and self.chance(self.hazard * 3):
            leaves.append(f"{o}!")  # may be `none`: well_defined
        if depth <= 0:
            return self.pick(leaves)
        form = self.n(0, 9)
        if form <= 3:
            return self.pick(leaves)
        if form == 4:
            return f"({self.int_e(cx, depth - 1)} + {self.int_e(cx, depth - 1)})"
        if form == 5:
            if self.chance(0.3):  # `A * K`: K a constant
                return f"({self.int_e(cx, depth - 1)} * {self.n(0, 3)})"
            return f"({self.int_e(cx, depth - 1)} - {self.int_e(cx, depth - 1)})"
        if form == 6:
            x = cx.fresh("q")
            return f"(count {x}: S. {self.bool_e(cx.with_local(x, 'S'), depth - 1)})"
        if form == 7:
            return f"(if {self.bool_e(cx, depth - 1)} then {self.int_e(cx, depth - 1)} else {self.int_e(cx, depth - 1)})"
        if form == 8:
            o = self.var_of(cx, "O")
            if o:  # guarded unwrap: never fails
                return f"(if {o} != none then {o}! else {self.n(0, 2)})"
            return self.pick(leaves)
        defs = [d for d in cx.defs if d[2] == "R"]
        if defs:
            name, ptag, _ = defs[0]
            return f"{name}({self.expr(cx, ptag, depth - 1)})"
        return f"({self.int_e(cx, depth - 1)} + 1)"

    def key_e(self, cx: Ctx, depth: int) -> str:
        r = self.var_ref(cx, "S")
        opts = [r, r] if r else []
        opts.append(str(self.n(0, 1)))
        if self.chance(self.hazard):
            opts = [self.int_e(cx, depth)]  # may be outside 0 .. 1: well_defined
        return self.pick(opts)

    def enum_e(self, cx: Ctx, depth: int) -> str:
        r = self.var_ref(cx, "E")
        opts = [r, r] if r else []
        opts += [self.pick(cx.members), f"E.{self.pick(cx.members)}"]
        if depth > 0 and self.chance(0.2):
            return f"(if {self.bool_e(cx, depth - 1)} then {self.enum_e(cx, depth - 1)} else {self.enum_e(cx, depth - 1)})"
        return self.pick(opts)

    def bool_e(self, cx: Ctx, depth: int) -> str:  # noqa: C901 - one case per form
        leaves = []
        r = self.var_ref(cx, "bool")
        if r:
            leaves += [r, r, f"not {r}"]
        rec = self.var_of(cx, "Rec")
        if rec:
            leaves.append(f"{rec}.b")
        me = self.var_of(cx, "ME")
        if me:
            leaves.append(f"{me}[{self.enum_e(cx, 0)}]")
        leaves.append(self.pick(["true", "false"]))
        if depth <= 0:
            return self.pick(leaves)
        d = depth - 1
        form = (self.n(0, 17) + 2) % 18  # the simplest draw is a comparison
        if form <= 1:
            return self.pick(leaves)
        if form <= 4:
            op = self.pick(["==", "<=", "<", "!=", ">", ">="])
            return f"({self.int_e(cx, d)} {op} {self.int_e(cx, d)})"
        if form == 5:
            return f"not ({self.bool_e(cx, d)})"
        if form == 6:
            op = self.pick(["and", "or", "implies", "iff"])
            return f"({self.bool_e(cx, d)} {op} {self.bool_e(cx, d)})"
        if form == 7:
            o = self.var_of(cx, "O")
            if o:
                return self.pick([f"({o} != none)", f"({o} == none)", f"({o} == some({self.int_e(cx, d)}))",
                                  f"({o} != none and {o}! > {self.n(0, 2)})"])
        if form == 8:
            s = self.var_of(cx, "ST")
            if s:
                return self.pick([f"({self.key_e(cx, d)} in {s})", f"({self.key_e(cx, d)} not in {s})",
                                  f"({self.set_e(cx, d)} <= {s})", f"({s} == {self.set_e(cx, d)})"])
        if form == 9:
            kind = self.pick(["forall", "exists"])
            x = cx.fresh("q")
            dom = self.pick(["S", "R", "E"])
            return f"({kind} {x}: {dom}. {self.bool_e(cx.with_local(x, dom), d)})"
        if form == 10:
            return f"({self.enum_e(cx, d)} {self.pick(['==', '!='])} {self.enum_e(cx, d)})"
        if form == 11:
            m = self.var_of(cx, "M")
            if m:
                return self.pick([f"({m}[{self.key_e(cx, d)}] == {self.int_e(cx, d)})",
                                  f"({m} == {self.map_e(cx, d)})"])
        if form == 12:
            return f"(if {self.bool_e(cx, d)} then {self.bool_e(cx, d)} else {self.bool_e(cx, d)})"
        if form == 13:
            rec = self.var_of(cx, "Rec")
            if rec:
                return f"({rec} == {self.rec_e(cx, d)})"
        if form == 14:
            defs = [df for df in cx.defs if df[2] == "bool"]
            if defs:
                name, ptag, _ = defs[0]
                return f"{name}({self.expr(cx, ptag, d)})"
        if form == 15:
            return f"((count {(x := cx.fresh('q'))}: S. {self.bool_e(cx.with_local(x, 'S'), d)}) >= {self.n(0, 2)})"
        return self.pick(leaves)

    def map_e(self, cx: Ctx, depth: int) -> str:
        r = self.var_ref(cx, "M")
        opts = [r] if r else []
        x = cx.fresh("k")
        opts.append(f"(map {x}: S. {self.int_e(cx.with_local(x, 'S'), max(depth - 1, 0))})")
        if depth > 0 and self.chance(0.15):
            return f"(if {self.bool_e(cx, depth - 1)} then {self.map_e(cx, depth - 1)} else {self.map_e(cx, depth - 1)})"
        return self.pick(opts)

    def emap_e(self, cx: Ctx, depth: int) -> str:
        r = self.var_ref(cx, "ME")
        opts = [r] if r else []
        x = cx.fresh("k")
        opts.append(f"(map {x}: E. {self.bool_e(cx.with_local(x, 'E'), max(depth - 1, 0))})")
        return self.pick(opts)

    def opt_e(self, cx: Ctx, depth: int) -> str:
        r = self.var_ref(cx, "O")
        opts = [r] if r else []
        opts += [f"some({self.int_e(cx, max(depth - 1, 0))})", "none"]
        if depth > 0 and self.chance(0.15):
            return (f"(if {self.bool_e(cx, depth - 1)} then some({self.int_e(cx, depth - 1)}) "
                    f"else {self.opt_e(cx, depth - 1)})")
        return self.pick(opts)

    def set_e(self, cx: Ctx, depth: int) -> str:
        lit = self.pick(["{}", f"{{{self.key_e(cx, 0)}}}", f"{{{self.key_e(cx, 0)}, {self.key_e(cx, 0)}}}"])
        r = self.var_ref(cx, "ST")
        opts = [r, r] if r else []
        opts.append(lit)
        if depth > 0:
            a = self.set_e(cx, depth - 1)
            if a != "{}":
                opts.append(f"({a} {self.pick(['+', '-', '&'])} {self.set_e(cx, depth - 1)})")
        return self.pick(opts)

    def rec_e(self, cx: Ctx, depth: int) -> str:
        d = max(depth - 1, 0)
        r = self.var_ref(cx, "Rec")
        opts = [f"({r} with {{ a: {self.int_e(cx, d)} }})", f"({r} with {{ b: {self.bool_e(cx, d)} }})", r] if r else []
        opts.append(f"Rec {{ a: {self.int_e(cx, d)}, b: {self.bool_e(cx, d)} }}")
        return self.pick(opts)

    # ------------------------------------------------------------------ statements
    def stmts(self, cx: Ctx, depth: int, lo: int, hi: int, ind: str) -> list[str]:
        out: list[str] = []
        for _ in range(self.n(lo, hi)):
            line, cx = self.stmt(cx, depth, ind)
            out.append(line)
        return out

    def stmt(self, cx: Ctx, depth: int, ind: str) -> tuple[str, Ctx]:  # noqa: C901
        form = (self.n(0, 17) + 4) % 18  # the simplest draw is an update that moves the state
        name, tag = cx.vars[self.n(0, len(cx.vars) - 1)]
        if form <= 1:
            return f"{ind}{name} = {self.expr(cx, tag, 2)}", cx
        if form <= 3:
            if tag == "M":
                return f"{ind}{name}[{self.key_e(cx, 1)}] = {self.int_e(cx, 2)}", cx
            if tag == "ME":
                return f"{ind}{name}[{self.enum_e(cx, 1)}] = {self.bool_e(cx, 2)}", cx
            if tag == "Rec":
                if self.chance(0.5):
                    return f"{ind}{name}.a = {self.int_e(cx, 2)}", cx
                return f"{ind}{name}.b = {self.bool_e(cx, 2)}", cx
            if tag == "ST":
                return f"{ind}{name} = {name} {self.pick(['+', '-'])} {{{self.key_e(cx, 1)}}}", cx
            if tag == "O":
                return f"{ind}{name} = {self.pick(['none', f'some({self.int_e(cx, 2)})'])}", cx
            return f"{ind}{name} = {self.expr(cx, tag, 1)}", cx
        if form <= 7:
            return self.evolve(cx, name, tag, ind), cx
        if form == 8:
            x = cx.fresh("l")
            t = self.pick(["R", "bool", "E", "O"])
            return f"{ind}let {x} = {self.expr(cx, t, 2)}", cx.with_local(x, t)
        if form in (9, 10):
            code = f" else {self.pick(CODES)}" if self.chance(0.5) else ""
            return f"{ind}require {self.bool_e(cx, 2)}{code}", cx
        if form in (11, 12) and depth > 0:
            then = self.stmts(cx, depth - 1, 1, 2, ind + "  ")
            text = f"{ind}if {self.bool_e(cx, 2)} {{\n" + "\n".join(then) + f"\n{ind}}}"
            if self.chance(0.3):  # an `else if` arm
                arm = self.stmts(cx, depth - 1, 1, 2, ind + "  ")
                text += f" else if {self.bool_e(cx, 2)} {{\n" + "\n".join(arm) + f"\n{ind}}}"
            if self.chance(0.6):
                other = self.stmts(cx, depth - 1, 1, 2, ind + "  ")
                text += " else {\n" + "\n".join(other) + f"\n{ind}}}"
            return text, cx
        if form == 13 and depth > 0:
            x = cx.fresh("i")
            body = self.stmts(cx.with_local(x, "S"), depth - 1, 1, 2, ind + "  ")
            return f"{ind}for {x}: S {{\n" + "\n".join(body) + f"\n{ind}}}", cx
        return self.evolve(cx, name, tag, ind), cx

    def evolve(self, cx: Ctx, name: str, tag: str, ind: str) -> str:
        """An update that moves the state somewhere new (counting, toggling, adding)."""
        guard = not self.chance(self.hazard * 2)  # unguarded: out-of-range stores
        step = self.pick(["+ 1", "- 1", "+ 1"])
        bound = "< 2" if step == "+ 1" else "> 0"
        if tag == "R":
            val = self.var_ref(cx, "R") or self.var_ref(cx, "S")
            if val and self.chance(0.3):
                return f"{ind}{name} = {val}"
            if guard:
                return f"{ind}if {name} {bound} {{ {name} = {name} {step} }} else {{ {name} = {self.n(0, 2)} }}"
            return f"{ind}{name} = {name} {step}"
        if tag == "bool":
            return f"{ind}{name} = {self.pick([f'not {name}', self.bool_e(cx, 1)])}"
        if tag == "E":
            return f"{ind}{name} = {self.pick([self.enum_e(cx, 0), f'if {name} == A then B else A'])}"
        if tag == "M":
            k = self.key_e(cx, 0)
            if guard:
                return (f"{ind}if {name}[{k}] {bound} {{ {name}[{k}] = {name}[{k}] {step} }} "
                        f"else {{ {name}[{k}] = {self.n(0, 2)} }}")
            return f"{ind}{name}[{k}] = {name}[{k}] {step}"
        if tag == "O":
            if self.chance(0.5):
                return f"{ind}{name} = some({self.int_e(cx, 0)})"
            if guard:
                return f"{ind}if {name} != none {{ {name} = some(({name}! + 1) - 1) }} else {{ {name} = some(0) }}"
            return f"{ind}{name} = some({name}! {step})"
        if tag == "ME":
            k = self.enum_e(cx, 0)
            return f"{ind}{name}[{k}] = not {name}[{k}]"
        if tag == "ST":
            return f"{ind}{name} = {name} {self.pick(['+', '-', '+'])} {{{self.key_e(cx, 0)}}}"
        # Rec
        if guard:
            return f"{ind}if {name}.a {bound} {{ {name}.a = {name}.a {step} }} else {{ {name}.b = not {name}.b }}"
        return f"{ind}{name} = {name} with {{ a: {name}.a {step} }}"


@st.composite
def spec_texts(draw: st.DrawFn) -> str:
    """The text of one small spec (type-checks most of the time)."""
    g = Gen(draw)
    members = ("A", "B", "C")[: g.n(2, 3)]
    tags = [g.pick(VAR_TYPES) for _ in range((1, 2, 2, 3, 3)[g.n(0, 4)])]
    vars_ = [(f"v{i}", t) for i, t in enumerate(tags)]
    lines = ["spec gen", "type R = 0 .. 2", "type S = 0 .. 1", f"enum E {{ {', '.join(members)} }}",
             "record Rec { a: R, b: bool }"]
    lines += [f"var {n}: {TYPE_TEXT[t]}" for n, t in vars_]
    defs: list[tuple[str, str, str]] = []
    if g.chance(0.4):
        ptag, rtag = g.pick(["R", "S"]), g.pick(["bool", "R"])
        dcx = Ctx(vars_, [("p", ptag)], members)
        lines.append(f"def f(p: {ptag}): {rtag} = {g.expr(dcx, rtag, 2)}")
        defs.append(("f", ptag, rtag))
    # init: every var assigned as a whole (from literals and earlier vars), then maybe a part
    init: list[str] = []
    for i, (n, t) in enumerate(vars_):
        icx = Ctx(vars_[:i], [], members)
        init.append(f"  {n} = {g.expr(icx, t, 0 if g.chance(0.7) else 1)}")
    lines.append("init {\n" + "\n".join(init) + "\n}")
    actions = []
    for a in range(g.n(1, 3)):
        params = [(f"p{a}_{j}", g.pick(PARAM_TYPES)) for j in range((1, 0, 2)[g.n(0, 2)])]
        cx = Ctx(vars_, list(params), members, defs=defs)
        body = g.stmts(cx, 2, 1, 5, "  ")
        if g.chance(0.15):
            body.append(f"  assert {g.bool_e(cx, 2)}")
        sig = ", ".join(f"{p}: {TYPE_TEXT[t]}" for p, t in params)
        actions.append(f"act{a}")
        lines.append(f"action act{a}({sig}) {{\n" + "\n".join(body) + "\n}")
    cx = Ctx(vars_, [], members, defs=defs)
    for i in range(g.n(1, 3)):
        lines.append(f"invariant inv{i}: {g.bool_e(cx, 3)}")
    if g.chance(0.5):
        on = ""
        if g.chance(0.5):
            on = " on " + ", ".join(sorted(set(g.pick(actions) for _ in range(g.n(1, 2)))))
        tcx = Ctx(vars_, [], members, transition=True, defs=defs)
        lines.append(f"transition tr{on}: {g.bool_e(tcx, 3)}")
    if g.chance(0.6):
        lines.append(f"cover cov: {g.bool_e(cx, 3)}")
    return "\n".join(lines) + "\n"
