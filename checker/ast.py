"""Surface syntax of a .tee spec, as written: frozen dataclasses, one per construct.

In: built only by parse.py. Out: a `Spec` tree that typecheck.py reads. Every node carries
a `span`, excluded from equality and hashing (two equal-looking nodes on different lines
compare equal; never key a dict by a node). Names are unresolved strings here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from checker.source import NO_SPAN, Span


def _span() -> Span:
    span: Span = field(default=NO_SPAN, compare=False, repr=False)
    return span


# ----------------------------------------------------------------------------- types
@dataclass(frozen=True)
class TBool:
    span: Span = _span()


@dataclass(frozen=True)
class TName:
    name: str
    span: Span = _span()


@dataclass(frozen=True)
class TRange:
    lo: Expr
    hi: Expr
    span: Span = _span()


@dataclass(frozen=True)
class TMap:
    key: TypeExpr
    value: TypeExpr
    span: Span = _span()


@dataclass(frozen=True)
class TSet:
    elem: TypeExpr
    span: Span = _span()


@dataclass(frozen=True)
class TOption:
    elem: TypeExpr
    span: Span = _span()


TypeExpr = TBool | TName | TRange | TMap | TSet | TOption


# ----------------------------------------------------------------------------- expressions
@dataclass(frozen=True)
class IntLit:
    value: int
    span: Span = _span()


@dataclass(frozen=True)
class BoolLit:
    value: bool
    span: Span = _span()


@dataclass(frozen=True)
class NoneLit:
    span: Span = _span()


@dataclass(frozen=True)
class Name:
    name: str
    span: Span = _span()


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple[Expr, ...]
    span: Span = _span()
    func_span: Span = _span()


@dataclass(frozen=True)
class Index:
    base: Expr
    key: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Field:
    base: Expr
    name: str
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True)
class Unwrap:
    base: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Old:
    expr: Expr
    span: Span = _span()


@dataclass(frozen=True)
class SomeE:
    expr: Expr
    span: Span = _span()


@dataclass(frozen=True)
class FieldInit:
    name: str
    expr: Expr
    span: Span = _span()


@dataclass(frozen=True)
class RecordLit:
    type_name: str
    fields: tuple[FieldInit, ...]
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True)
class With:
    base: Expr
    fields: tuple[FieldInit, ...]
    span: Span = _span()


@dataclass(frozen=True)
class SetLit:
    elems: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Binary:
    op: str  # implies iff or and == != < <= > >= in "not in" + - & *
    left: Expr
    right: Expr
    span: Span = _span()
    op_span: Span = _span()


@dataclass(frozen=True)
class Unary:
    op: str  # not, -
    arg: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Ite:
    cond: Expr
    then: Expr
    other: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Binding:
    name: str
    type: TypeExpr
    span: Span = _span()


@dataclass(frozen=True)
class Binder:
    kind: str  # forall exists count map
    bindings: tuple[Binding, ...]
    body: Expr
    span: Span = _span()


Expr = (
    IntLit | BoolLit | NoneLit | Name | Call | Index | Field | Unwrap | Old | SomeE
    | RecordLit | With | SetLit | Binary | Unary | Ite | Binder
)


# ----------------------------------------------------------------------------- statements
@dataclass(frozen=True)
class LvIndex:
    key: Expr
    span: Span = _span()


@dataclass(frozen=True)
class LvField:
    name: str
    span: Span = _span()


@dataclass(frozen=True)
class Assign:
    target: str
    path: tuple[LvIndex | LvField, ...]
    expr: Expr
    span: Span = _span()
    target_span: Span = _span()


@dataclass(frozen=True)
class Let:
    name: str
    expr: Expr
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True)
class Require:
    cond: Expr
    code: str | None
    span: Span = _span()
    code_span: Span = _span()


@dataclass(frozen=True)
class If:
    cond: Expr
    then: tuple[Stmt, ...]
    other: tuple[Stmt, ...]
    span: Span = _span()


@dataclass(frozen=True)
class For:
    var: str
    type: TypeExpr
    body: tuple[Stmt, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Assert:
    cond: Expr
    span: Span = _span()


Stmt = Assign | Let | Require | If | For | Assert


# ----------------------------------------------------------------------------- declarations
@dataclass(frozen=True)
class Param:
    name: str
    type: TypeExpr
    span: Span = _span()


@dataclass(frozen=True)
class ConstDecl:
    name: str
    expr: Expr
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True)
class TypeDecl:
    name: str
    type: TypeExpr
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True)
class EnumDecl:
    name: str
    members: tuple[str, ...]
    member_spans: tuple[Span, ...] = field(default=(), compare=False, repr=False)
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True)
class FieldDecl:
    name: str
    type: TypeExpr
    span: Span = _span()


@dataclass(frozen=True)
class RecordDecl:
    name: str
    fields: tuple[FieldDecl, ...]
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True)
class VarDecl:
    name: str
    type: TypeExpr
    ghost: bool
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True)
class DefDecl:
    name: str
    params: tuple[Param, ...]
    result: TypeExpr
    body: Expr
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True)
class InitDecl:
    body: tuple[Stmt, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Actor:
    name: str
    param: str | None
    span: Span = _span()


@dataclass(frozen=True)
class ActionDecl:
    name: str
    params: tuple[Param, ...]
    actor: Actor | None
    body: tuple[Stmt, ...]
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True)
class InvariantDecl:
    name: str
    expr: Expr
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True)
class TransitionDecl:
    name: str
    on: tuple[str, ...]
    on_spans: tuple[Span, ...] = field(default=(), compare=False, repr=False)
    expr: Expr = field(default_factory=NoneLit)
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True)
class CoverDecl:
    name: str
    expr: Expr
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True)
class ExpectDecl:
    name: str
    kind: str  # holds violated reachable unreachable
    within: int | None
    span: Span = _span()
    name_span: Span = _span()


Decl = (
    ConstDecl | TypeDecl | EnumDecl | RecordDecl | VarDecl | DefDecl | InitDecl | ActionDecl
    | InvariantDecl | TransitionDecl | CoverDecl | ExpectDecl
)


@dataclass(frozen=True)
class Spec:
    name: str
    title: str | None
    decls: tuple[Decl, ...]
    span: Span = _span()
    name_span: Span = _span()
