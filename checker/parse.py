"""Text -> ast.Spec, or a SpecError with diagnostics. The only module that imports lark.

In: a `SourceFile`. Out: an `ast.Spec` whose nodes all carry spans into that file.
Guarantees: never raises anything but `SpecError` for bad input (lexing and parsing
errors become E001-E008 diagnostics, see docs/errors.md); the grammar is LALR(1) and is
built with `strict=True`, so it has no conflicts.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from checker import ast
from checker.diagnostics import Diagnostic, SpecError
from checker.source import SourceFile, Span

KEYWORDS = frozenset(
    ["spec", "const", "type", "enum", "record", "var", "ghost", "def", "init", "action", "by", "require", "else", "let", "if", "then", "for", "in", "forall", "exists", "count", "map", "some", "none", "true", "false", "and", "or", "not", "implies", "iff", "assert", "invariant", "transition", "cover", "expect", "holds", "violated", "reachable", "unreachable", "within", "old", "bool", "option", "set", "with"]
)


@functools.cache
def grammar_text() -> str:
    return resources.files("checker").joinpath("grammar/tee.lark").read_text(encoding="utf-8")


@functools.cache
def _parser() -> Lark:
    return Lark(
        grammar_text(),
        parser="lalr",
        strict=True,
        propagate_positions=True,
        maybe_placeholders=True,
        cache=True,
    )


def parse(source: SourceFile) -> ast.Spec:
    """Parse one spec. Raises SpecError (never anything else) on bad input."""
    try:
        tree = _parser().parse(source.text)
    except UnexpectedInput as err:
        raise SpecError([_syntax_diagnostic(source, err)]) from None
    except RecursionError:
        raise SpecError([_too_deep(source)]) from None
    try:
        return _Builder(source.path).spec(tree)
    except RecursionError:
        raise SpecError([_too_deep(source)]) from None


def _too_deep(source: SourceFile) -> Diagnostic:
    line = max(range(1, source.line_count + 1), key=lambda n: source.line(n).count("("), default=1)
    text = source.line(line)
    return Diagnostic("E008", "the spec is nested too deeply to process", Span(source.path, line, 1, line, max(len(text), 1) + 1),
                      hint="split deeply nested expressions with `let` or `def`")


# ----------------------------------------------------------------------------- errors
_PUNCT = {
    "LPAR": "(", "RPAR": ")", "LBRACE": "{", "RBRACE": "}", "LSQB": "[", "RSQB": "]",
    "COLON": ":", "COMMA": ",", "DOT": ".", "EQUAL": "=", "SEMICOLON": ";",
}


def _describe_terminal(name: str) -> str:
    if name == "NAME":
        return "a name"
    if name == "INT":
        return "an integer"
    if name == "STRING":
        return 'a "title"'
    if name == "$END":
        return "end of file"
    if name == "QUANT":
        return "`forall`/`exists`/`count`/`map`"
    if name == "NOTIN":
        return "`not in`"
    if name in _PUNCT:
        return f"`{_PUNCT[name]}`"
    try:
        pattern = _parser().get_terminal(name).pattern
        if pattern.type == "str":
            return f"`{pattern.value}`"
    except KeyError:
        pass
    return name.lower()


def _token_span(path: str, tok: Token) -> Span:
    line = tok.line or 1
    col = tok.column or 1
    end_line = tok.end_line or line
    end_col = tok.end_column or col + max(len(str(tok)), 1)
    return Span(path, line, col, end_line, max(end_col, col + 1))


# characters other languages use for what .tee spells with a keyword (or does not have)
_FOREIGN = {
    "?": "there is no `C ? A : B`: write `if C then A else B`",
    "~": "write `not`",
    "^": "there is no xor: write `A != B` (booleans) or `A - B` (sets)",
    "#": "comments are `// ...` and `/* ... */`",
    "%": "there is no `%`: integers have `+`, `-` and `* K` (K a constant)",
    "/": "there is no division: integers have `+`, `-` and `* K` (K a constant)",
}


def _has_code(text: str) -> bool:
    """Is there anything but comments and white space?"""
    return bool(re.sub(r"//[^\n]*|/\*.*?\*/", "", text, flags=re.S).strip())


def _syntax_diagnostic(source: SourceFile, err: UnexpectedInput) -> Diagnostic:
    path = source.path
    if isinstance(err, UnexpectedCharacters):
        pos = err.pos_in_stream or 0
        ch = source.text[pos] if pos < len(source.text) else "?"
        span = Span(path, err.line, err.column, err.line, err.column + 1)
        hint = None
        if ch == '"':
            hint = 'a string literal may appear only as the title in `spec NAME "title"`, on one line'
        elif source.text.startswith("/*", pos):
            hint = "this block comment is never closed with `*/`"
        elif ch == "'":
            hint = 'use double quotes for the spec title: spec NAME "title"'
        elif source.text.startswith("||", pos) or ch == "|":
            hint = "write `or`"
        elif ch in _FOREIGN:
            hint = _FOREIGN[ch]
        elif not ch.isascii():
            hint = "names and keywords are ASCII: letters, digits and `_`"
        return Diagnostic("E001", f"unexpected character `{ch}`", span, hint=hint)
    if isinstance(err, UnexpectedEOF) or (isinstance(err, UnexpectedToken) and err.token.type == "$END"):
        lines = source.text.splitlines() or [""]
        span = Span(path, len(lines), len(lines[-1]) + 1, len(lines), len(lines[-1]) + 2)
        expected = sorted(_describe_terminal(t) for t in getattr(err, "expected", ()) or ())
        msg = "unexpected end of file"
        if expected:
            msg += "; expected " + _one_of(expected)
        hint = ("a .tee file starts with `spec NAME`" if not _has_code(source.text)
                else "a `{` or `(` may be missing its closing partner")
        return Diagnostic("E003", msg, span, hint=hint)
    assert isinstance(err, UnexpectedToken)
    tok = err.token
    span = _token_span(path, tok)
    expected_set = set(err.expected or ())
    expected = sorted({_describe_terminal(t) for t in expected_set})
    text = str(tok)
    prev = _previous_token(source, tok)
    if text == "spec":
        return Diagnostic("E007", "`spec` may appear only once, as the first declaration", span,
                          hint="one file describes one state machine")
    if text in DECL_KEYWORDS and "NAME" in expected_set and prev not in NAMING_TOKENS:
        return Diagnostic(
            "E002", f"unexpected `{text}`: a new declaration starts before the previous one ended",
            span, hint="a `}` or an expression may be missing before this line")
    if text in ("option", "set") and "LPAR" in expected_set and "NAME" in expected_set:
        return Diagnostic(
            "E002", f"`{text} T` needs parentheses here", span,
            hint=f"a binder or `for` ranges over a type name, a range or a parenthesised type: write `({text} ...)`")
    if text in KEYWORDS and "NAME" in expected_set and (prev in NAMING_TOKENS or prev is None):
        return Diagnostic(
            "E005", f"`{text}` is a reserved keyword and cannot be used as a name", span,
            hint=f"rename it, e.g. `{text}_`")
    if (err.state is not None) and tok.type == "COLON" and _record_literal_in_if(source, tok):
        return Diagnostic(
            "E004", "a record literal in the condition of an `if` statement must be in parentheses",
            span, hint="write `if x == (R { f: v }) { ... }`: without parentheses `R {` opens the if's block")
    if span.line >= 1 and _is_first_token(source, tok) and text != "spec":
        return Diagnostic("E007", "a spec must begin with `spec NAME`", span,
                          hint='add a first line such as `spec my_machine "what it models"`')
    msg = f"unexpected `{text}`"
    if expected:
        msg += "; expected " + _one_of(expected)
    hint = None
    if tok.type == "EQUAL" and "EQ" in expected_set:
        hint = "compare with `==`; `=` assigns"
    elif text == "=" and "COLON" in expected_set:
        hint = "properties are written `invariant NAME: EXPR`"
    elif text == "&" and "&" in (_next_char(source, tok), _prev_char(source, tok)):
        hint = "write `and` (`&` alone intersects sets)"
    elif text == "!" and "NAME" in expected_set:
        hint = "negation is written `not`; `E!` unwraps an option"
    return Diagnostic("E002", msg, span, hint=hint)


DECL_KEYWORDS = frozenset(
    ["spec", "const", "type", "enum", "record", "var", "ghost", "def", "init", "action", "invariant", "transition", "cover", "expect"])
# tokens after which a name is expected: a keyword there is a keyword used as a name
NAMING_TOKENS = frozenset(
    ["var", "const", "type", "enum", "record", "def", "action", "invariant", "transition", "cover", "expect", "let", "for", "by", "LBRACE", "COMMA", "LPAR", "COLON", "QUANT", "DOT"])


def _previous_token(source: SourceFile, tok: Token) -> str | None:
    """The previous token's keyword text or terminal type (None at the start of the file)."""
    pos = tok.start_pos if tok.start_pos is not None else 0
    try:
        toks = list(_parser().lex(source.text[:pos]))
    except UnexpectedInput:
        return None
    if not toks:
        return None
    last = toks[-1]
    return str(last) if str(last) in KEYWORDS else last.type


def _next_char(source: SourceFile, tok: Token) -> str:
    end = tok.end_pos if tok.end_pos is not None else 0
    return source.text[end:end + 1]


def _prev_char(source: SourceFile, tok: Token) -> str:
    start = tok.start_pos if tok.start_pos is not None else 0
    return source.text[start - 1:start] if start > 0 else ""


def _one_of(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    if len(items) > 8:
        items = items[:8] + ["..."]
    return "one of " + ", ".join(items)


def _is_first_token(source: SourceFile, tok: Token) -> bool:
    pos = tok.start_pos if tok.start_pos is not None else 0
    prefix = source.text[:pos]
    try:
        return not any(True for _ in _parser().lex(prefix))
    except UnexpectedInput:
        return False


def _record_literal_in_if(source: SourceFile, tok: Token) -> bool:
    """Is `tok` (a `:`) the field colon of `R { f:` written right after an `if` condition?"""
    pos = tok.start_pos if tok.start_pos is not None else 0
    try:
        toks = list(_parser().lex(source.text[:pos]))
    except UnexpectedInput:
        return False
    if len(toks) < 4 or toks[-1].type != "NAME" or toks[-2].type != "LBRACE" or toks[-3].type != "NAME":
        return False
    depth = 0
    for t in reversed(toks[:-3]):
        if t.type in ("RPAR", "RSQB"):
            depth += 1
        elif t.type in ("LPAR", "LSQB"):
            depth -= 1
        elif depth == 0 and t.type in ("LBRACE", "RBRACE", "SEMICOLON"):
            return False
        elif depth == 0 and t.type == "IF":
            return True
    return False


# ----------------------------------------------------------------------------- tree -> ast
class _Builder:
    def __init__(self, path: str) -> None:
        self.path = path

    def span(self, node: Tree | Token) -> Span:
        if isinstance(node, Token):
            return _token_span(self.path, node)
        m = node.meta
        if getattr(m, "empty", True):
            return Span(self.path, 1, 1, 1, 2)
        return Span(self.path, m.line, m.column, m.end_line, m.end_column)

    # ------------------------------------------------------------------ declarations
    def spec(self, tree: Tree) -> ast.Spec:
        head, *decls = tree.children
        assert isinstance(head, Tree)
        name_tok, title_tok = head.children
        assert isinstance(name_tok, Token)
        title = str(title_tok)[1:-1] if title_tok is not None else None
        return ast.Spec(
            name=str(name_tok), title=title,
            decls=tuple(self.decl(d) for d in decls if isinstance(d, Tree)),
            span=self.span(tree), name_span=self.span(name_tok))

    def decl(self, t: Tree) -> ast.Decl:
        kind = str(t.data)
        c = t.children
        sp = self.span(t)
        if kind == "const_decl":
            return ast.ConstDecl(str(c[0]), self.expr(c[1]), sp, self.span(c[0]))
        if kind == "type_decl":
            return ast.TypeDecl(str(c[0]), self.type(c[1]), sp, self.span(c[0]))
        if kind == "enum_decl":
            toks = [x for x in c[1:] if isinstance(x, Token)]
            return ast.EnumDecl(str(c[0]), tuple(str(x) for x in toks),
                                tuple(self.span(x) for x in toks), sp, self.span(c[0]))
        if kind == "record_decl":
            fields = tuple(
                ast.FieldDecl(str(f.children[0]), self.type(f.children[1]), self.span(f))
                for f in c[1:] if isinstance(f, Tree))
            return ast.RecordDecl(str(c[0]), fields, sp, self.span(c[0]))
        if kind in ("var_decl", "ghost_var_decl"):
            return ast.VarDecl(str(c[0]), self.type(c[1]), kind == "ghost_var_decl", sp, self.span(c[0]))
        if kind == "def_decl":
            params = self.params(c[1:-2])
            return ast.DefDecl(str(c[0]), params, self.type(c[-2]), self.expr(c[-1]), sp, self.span(c[0]))
        if kind == "init_decl":
            return ast.InitDecl(self.block(c[0]), sp)
        if kind == "action_decl":
            actor_t = c[-2]
            actor = None
            if isinstance(actor_t, Tree):
                a_name, a_param = actor_t.children
                actor = ast.Actor(str(a_name), str(a_param) if a_param is not None else None,
                                  self.span(actor_t))
            return ast.ActionDecl(str(c[0]), self.params(c[1:-2]), actor, self.block(c[-1]), sp,
                                  self.span(c[0]))
        if kind == "invariant_decl":
            return ast.InvariantDecl(str(c[0]), self.expr(c[1]), sp, self.span(c[0]))
        if kind == "transition_decl":
            ons = [x for x in c[1:-1] if isinstance(x, Token)]
            return ast.TransitionDecl(str(c[0]), tuple(str(x) for x in ons),
                                      tuple(self.span(x) for x in ons), self.expr(c[-1]), sp,
                                      self.span(c[0]))
        if kind == "cover_decl":
            return ast.CoverDecl(str(c[0]), self.expr(c[1]), sp, self.span(c[0]))
        if kind == "expect_decl":
            kind_t = c[1]
            assert isinstance(kind_t, Tree)
            within = _int(str(c[2])) if c[2] is not None else None
            return ast.ExpectDecl(str(c[0]), str(kind_t.children[0]), within, sp, self.span(c[0]))
        raise AssertionError(f"unknown declaration {kind}")

    def params(self, items: list[Any]) -> tuple[ast.Param, ...]:
        out = []
        for p in items:
            if isinstance(p, Tree) and p.data == "param":
                out.append(ast.Param(str(p.children[0]), self.type(p.children[1]), self.span(p)))
        return tuple(out)

    # ------------------------------------------------------------------ types
    def type(self, t: Any) -> ast.TypeExpr:
        sp = self.span(t)
        kind = str(t.data)
        c = t.children
        if kind == "bool_type":
            return ast.TBool(sp)
        if kind == "named_type":
            return ast.TName(str(c[0]), sp)
        if kind == "range_type":
            return ast.TRange(self.expr(c[0]), self.expr(c[1]), sp)
        if kind == "map_type":
            return ast.TMap(self.type(c[0]), self.type(c[1]), sp)
        if kind == "set_type":
            return ast.TSet(self.type(c[0]), sp)
        if kind == "option_type":
            return ast.TOption(self.type(c[0]), sp)
        raise AssertionError(f"unknown type node {kind}")

    # ------------------------------------------------------------------ statements
    def block(self, t: Any) -> tuple[ast.Stmt, ...]:
        return tuple(self.stmt(s) for s in t.children if isinstance(s, Tree))

    def stmt(self, t: Tree) -> ast.Stmt:
        kind = str(t.data)
        c = t.children
        sp = self.span(t)
        if kind == "assign":
            lv = c[0]
            assert isinstance(lv, Tree)
            target = lv.children[0]
            path: list[ast.LvIndex | ast.LvField] = []
            for step in lv.children[1:]:
                assert isinstance(step, Tree)
                if step.data == "lv_index":
                    path.append(ast.LvIndex(self.expr(step.children[0]), self.span(step)))
                else:
                    path.append(ast.LvField(str(step.children[0]), self.span(step.children[0])))
            return ast.Assign(str(target), tuple(path), self.expr(c[1]), sp, self.span(target))
        if kind == "let_stmt":
            return ast.Let(str(c[0]), self.expr(c[1]), sp, self.span(c[0]))
        if kind == "require_stmt":
            code = c[1]
            return ast.Require(self.expr(c[0]), str(code) if code is not None else None, sp,
                               self.span(code) if code is not None else sp)
        if kind == "if_stmt":
            other: tuple[ast.Stmt, ...] = ()
            if c[2] is not None:
                assert isinstance(c[2], Tree)
                other = self.block(c[2]) if c[2].data == "block" else (self.stmt(c[2]),)
            return ast.If(self.expr(c[0]), self.block(c[1]), other, sp)
        if kind == "for_stmt":
            return ast.For(str(c[0]), self.type(c[1]), self.block(c[2]), sp)
        if kind == "assert_stmt":
            return ast.Assert(self.expr(c[0]), sp)
        raise AssertionError(f"unknown statement {kind}")

    # ------------------------------------------------------------------ expressions
    def expr(self, t: Any) -> ast.Expr:
        if isinstance(t, Token):  # a bare token can only come from a bound like `N`
            return ast.Name(str(t), self.span(t))
        sp = self.span(t)
        kind = str(t.data)
        c = t.children
        if kind == "int_lit":
            return ast.IntLit(_int(str(c[0])), sp)
        if kind == "bool_lit":
            return ast.BoolLit(str(c[0]) == "true", sp)
        if kind == "none_lit":
            return ast.NoneLit(sp)
        if kind == "name":
            return ast.Name(str(c[0]), sp)
        if kind == "binop":
            op = " ".join(str(c[1]).split())
            return ast.Binary(op, self.expr(c[0]), self.expr(c[2]), sp, self.span(c[1]))
        if kind == "unop":
            op = "not" if str(c[0]) == "not" else "-"
            return ast.Unary(op, self.expr(c[1]), sp)
        if kind == "neg":
            return ast.Unary("-", self.expr(c[1]), sp)
        if kind == "ite":
            return ast.Ite(self.expr(c[0]), self.expr(c[1]), self.expr(c[2]), sp)
        if kind == "binder":
            quant = str(c[0])
            binds = tuple(
                ast.Binding(str(b.children[0]), self.type(b.children[1]), self.span(b))
                for b in c[1:-1] if isinstance(b, Tree))
            return ast.Binder(quant, binds, self.expr(c[-1]), sp)
        if kind == "index":
            return ast.Index(self.expr(c[0]), self.expr(c[1]), sp)
        if kind == "field":
            return ast.Field(self.expr(c[0]), str(c[1]), sp, self.span(c[1]))
        if kind == "unwrap":
            return ast.Unwrap(self.expr(c[0]), sp)
        if kind == "with_expr":
            return ast.With(self.expr(c[0]), self.field_inits(c[1]), sp)
        if kind == "call":
            args = tuple(self.expr(a) for a in c[1:] if a is not None)
            return ast.Call(str(c[0]), args, sp, self.span(c[0]))
        if kind == "old":
            return ast.Old(self.expr(c[0]), sp)
        if kind == "some":
            return ast.SomeE(self.expr(c[0]), sp)
        if kind == "set_lit":
            return ast.SetLit(tuple(self.expr(a) for a in c if a is not None), sp)
        if kind == "record_lit":
            return ast.RecordLit(str(c[0]), self.field_inits(c[1]), sp, self.span(c[0]))
        raise AssertionError(f"unknown expression node {kind}")

    def field_inits(self, t: Any) -> tuple[ast.FieldInit, ...]:
        return tuple(
            ast.FieldInit(str(f.children[0]), self.expr(f.children[1]), self.span(f))
            for f in t.children if isinstance(f, Tree))


def _int(text: str) -> int:
    return int(text, 16) if text[:2].lower() == "0x" else int(text)
