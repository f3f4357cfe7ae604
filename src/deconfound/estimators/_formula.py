"""Formulas evaluate only what a formula needs: the data's columns and a fixed list of transforms.

formulaic evaluates the Python parts of a formula (``np.log(x)``, ``I(x ** 2)``, ``C(s)``) with
``eval``, whose namespace holds numpy and Python's builtins. Formula text may come from someone
else (a shared analysis file, a web form), so every Python term is parsed with :mod:`ast` and
checked against an allow-list *before* formulaic evaluates anything:

- names must be columns of the data (bare, in backticks or in ``Q('...')``);
- calls must be to one of :data:`TRANSFORMS` or to ``np.<name>`` for a name in :data:`NUMPY_FUNCTIONS`;
- literals are numbers, strings (as arguments or in comparisons) and lists/tuples of them;
- operators are arithmetic, comparisons and the element-wise ``& | ~``.

Anything else (attribute access, subscripts, dunder names, lambdas, comprehensions, f-strings, other
builtins such as ``open`` or ``__import__``) is refused with a :class:`SpecificationError` listing
what is allowed. The evaluation itself then runs with a namespace that holds only those transforms
(``np`` is a stand-in with just the allowed functions; Python's builtins are shadowed).
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..errors import SpecificationError

#: transforms a formula may call, with what they do (shown in errors and docs)
TRANSFORMS: dict[str, str] = {
    "I": "arithmetic as written, e.g. I(x ** 2), I(x / 1000), I(a + b)",
    "C": "a categorical variable, e.g. C(region) or C(region, Treatment('north'))",
    "Q": "a column whose name is not a Python name, e.g. Q('I.H')",
    "log": "natural logarithm",
    "log2": "base-2 logarithm",
    "log10": "base-10 logarithm",
    "log1p": "log(1 + x)",
    "exp": "exponential",
    "expm1": "exp(x) - 1",
    "sqrt": "square root",
    "square": "x ** 2",
    "power": "power(x, p)",
    "abs": "absolute value",
    "center": "x minus its mean",
    "scale": "x centered and divided by its standard deviation",
    "standardize": "the same as scale",
    "poly": "orthogonal polynomial basis, e.g. poly(x, degree=3)",
    "bs": "B-spline basis, e.g. bs(x, df=4)",
    "cr": "natural cubic regression spline basis, e.g. cr(x, df=4)",
    "cs": "the same as cr",
    "cc": "cyclic cubic regression spline basis",
    "Treatment": "treatment contrasts with a chosen reference level, inside C()",
    "Sum": "sum-to-zero contrasts, inside C()",
}

#: numpy functions a formula may call as np.<name>(...)
NUMPY_FUNCTIONS: tuple[str, ...] = (
    "log", "log1p", "log2", "log10", "exp", "expm1", "sqrt", "square", "power", "abs",
)  # fmt: skip

_ALLOWED_OPS = (
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow,
    ast.BitAnd, ast.BitOr, ast.BitXor, ast.Invert, ast.UAdd, ast.USub, ast.Not,
    ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE,
)  # fmt: skip
_MAX_CONSTANT_EXPONENT = 1000
_BACKTICK = re.compile(r"`([^`]*)`")


def allowed_text() -> str:
    """The allow-list in one line, for error messages."""
    numpy_names = ", ".join(f"np.{name}" for name in NUMPY_FUNCTIONS)
    return f"{', '.join(f'{name}()' for name in TRANSFORMS)}; and {numpy_names}"


def _refuse(formula: str, what: str) -> SpecificationError:
    return SpecificationError(
        f"formula {formula!r}: {what} is not allowed. A formula may use the data's columns (bare, in "
        "backticks or as Q('name')), numbers, arithmetic and comparisons, and these functions: "
        f"{allowed_text()}."
    )


def check_formula(formula: str, parsed: Any, columns: Iterable[Any]) -> set[str]:
    """Refuse any part of ``formula`` (parsed by formulaic, not yet evaluated) outside the allow-list.

    Returns the variables the formula reads from the data (bare names, backticked names and ``Q()``
    strings). Names that are neither columns nor allowed functions are among them: the caller reports
    them with the closest column.
    """
    names = {str(c) for c in columns}
    variables: set[str] = set()
    for part in parsed._flatten():
        for term in part:
            for factor in term.factors:
                method = getattr(factor.eval_method, "name", str(factor.eval_method)).upper()
                expr = str(factor.expr)
                if method == "LOOKUP":
                    if expr not in names and _is_dunder_like(expr):
                        raise _refuse(formula, f"the name {expr!r}")
                    variables.add(expr)
                elif method == "PYTHON":
                    variables |= _check_expression(formula, expr, names)
    return variables


def _is_dunder_like(name: str) -> bool:
    return "__" in name or any(part.startswith("_") and part not in ("_",) for part in name.split("."))


def _check_expression(formula: str, expr: str, names: set[str]) -> set[str]:
    quoted: dict[str, str] = {}

    def placeholder(match: re.Match[str]) -> str:
        key = f"quoted_column_{len(quoted)}"
        quoted[key] = match.group(1)
        return key

    text = _BACKTICK.sub(placeholder, expr)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise _refuse(formula, f"the term {expr!r} (not a valid expression)") from None
    checker = _Checker(formula, names, set(quoted))
    checker.visit(tree)
    return checker.variables | set(quoted.values())


class _Checker(ast.NodeVisitor):
    """Walks one Python term; every node type not handled here is refused."""

    def __init__(self, formula: str, columns: set[str], placeholders: set[str]) -> None:
        self.formula = formula
        self.columns = columns
        self.placeholders = placeholders
        self.variables: set[str] = set()  # names read from the data

    def generic_visit(self, node: ast.AST) -> None:
        raise _refuse(self.formula, _describe(node))

    def visit_Expression(self, node: ast.Expression) -> None:
        self.visit(node.body)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in self.placeholders:
            return
        special = node.id in ("np", "numpy") or node.id in TRANSFORMS or hasattr(builtins, node.id)
        if node.id.startswith("__") or (node.id not in self.columns and (special or node.id.startswith("_"))):
            raise _refuse(self.formula, f"the name {node.id!r} used as a value")
        self.variables.add(node.id)  # a column, or an unknown name that the caller reports with a suggestion

    def visit_Constant(self, node: ast.Constant) -> None:
        if not isinstance(node.value, (int, float, str)):  # bool is an int; refuses None, bytes, ...
            raise _refuse(self.formula, f"the literal {node.value!r}")

    def visit_List(self, node: ast.List) -> None:
        self._literals(node.elts)

    def visit_Tuple(self, node: ast.Tuple) -> None:
        self._literals(node.elts)

    def _literals(self, elements: Sequence[ast.expr]) -> None:
        for element in elements:
            value = element.operand if isinstance(element, ast.UnaryOp) else element
            if not isinstance(value, ast.Constant):
                raise _refuse(self.formula, "a list or tuple of anything but numbers and strings")
            self.visit(element)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        self._op(node.op)
        self.visit(node.operand)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        self._op(node.op)
        for side in (node.left, node.right):
            if _is_string(side) or isinstance(side, (ast.List, ast.Tuple)):
                raise _refuse(self.formula, f"arithmetic on a string, list or tuple in {_source(node)!r}")
        if isinstance(node.op, ast.Pow):
            self._power(node)
        self.visit(node.left)
        self.visit(node.right)

    def _power(self, node: ast.BinOp) -> None:
        """A power of two literals must stay small (``9 ** 9 ** 9`` would run for ever in Python)."""
        if not self._has_column(node.right):
            value = node.right.operand if isinstance(node.right, ast.UnaryOp) else node.right
            if not (isinstance(value, ast.Constant) and isinstance(value.value, (int, float))):
                raise _refuse(self.formula, "a power whose exponent is not a number or a column expression")
            if abs(value.value) > _MAX_CONSTANT_EXPONENT:
                raise _refuse(self.formula, f"an exponent larger than {_MAX_CONSTANT_EXPONENT}")
        if not self._has_column(node.left) and not isinstance(node.left, ast.Constant):
            raise _refuse(self.formula, "a power of a constant expression (write the number)")

    def _has_column(self, node: ast.AST) -> bool:
        return any(isinstance(n, ast.Name) and n.id not in TRANSFORMS for n in ast.walk(node))

    def visit_Compare(self, node: ast.Compare) -> None:
        for op in node.ops:
            self._op(op)
        self.visit(node.left)
        for comparator in node.comparators:
            self.visit(comparator)

    def _op(self, op: ast.AST) -> None:
        if not isinstance(op, _ALLOWED_OPS):
            raise _refuse(self.formula, f"the operator {type(op).__name__}")

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id in TRANSFORMS:
            name = func.id
        elif (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "np"
            and func.attr in NUMPY_FUNCTIONS
        ):
            name = f"np.{func.attr}"
        else:
            raise _refuse(self.formula, f"calling {_source(func)!r}")
        if name == "Q":
            if len(node.args) != 1 or node.keywords or not _is_string(node.args[0]):
                raise _refuse(self.formula, "Q() with anything but one quoted column name")
            self.variables.add(node.args[0].value)  # type: ignore[attr-defined]
            return
        for arg in node.args:
            self.visit(arg)
        for keyword in node.keywords:
            if keyword.arg is None or keyword.arg.startswith("_"):
                raise _refuse(self.formula, f"the keyword argument {keyword.arg or '**'!r}")
            self.visit(keyword.value)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        raise _refuse(self.formula, f"the attribute access {_source(node)!r}")


def _is_string(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _source(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # pragma: no cover - unparse handles every parsed node
        return type(node).__name__


def _describe(node: ast.AST) -> str:
    kinds = {
        "Lambda": "a lambda",
        "ListComp": "a comprehension",
        "SetComp": "a comprehension",
        "DictComp": "a comprehension",
        "GeneratorExp": "a comprehension",
        "Subscript": "indexing",
        "Starred": "unpacking with *",
        "NamedExpr": "an assignment expression",
        "JoinedStr": "an f-string",
        "IfExp": "a conditional expression",
        "BoolOp": "'and'/'or' (use & and |)",
        "Dict": "a dict",
        "Set": "a set",
    }
    kind = type(node).__name__
    return f"{kinds.get(kind, 'the construct ' + kind)} in {_source(node)!r}"


class _Numpy:
    """The ``np`` a formula sees: only the allowed numpy functions."""

    def __init__(self) -> None:
        import numpy as np

        for name in NUMPY_FUNCTIONS:
            setattr(self, name, getattr(np, name))


def _shadow(name: str) -> Callable[..., Any]:
    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise SpecificationError(f"{name!r} is not allowed in a formula. Allowed: {allowed_text()}.")

    return refuse


def evaluation_context() -> dict[str, Any]:
    """What a formula's Python terms may see besides the data (formulaic's own transforms come after)."""
    import numpy as np

    context: dict[str, Any] = {name: _shadow(name) for name in dir(builtins) if not name.startswith("__")}
    context.update({"__import__": _shadow("__import__"), "__builtins__": {}})
    context.update(
        {
            "np": _Numpy(),
            "numpy": _shadow("numpy"),
            "sqrt": np.sqrt,
            "power": np.power,
            "square": np.square,
            "log1p": np.log1p,
            "expm1": np.expm1,
            "abs": np.abs,
        }
    )
    return context


# --------------------------------------------------------------------------------------------------
# instrumental-variable formulas (pyfixest's syntax): "y ~ exog | fe1 + fe2 | d1 + d2 ~ z1 + z2"
# --------------------------------------------------------------------------------------------------


class IVFormula:
    """The roles an IV formula names: outcome, exogenous covariates, absorbed factors, endogenous
    regressors and instruments (column names)."""

    def __init__(self, outcome: str, exog: list[str], absorb: list[str], endog: list[str], instruments: list[str]):
        self.outcome, self.exog, self.absorb, self.endog, self.instruments = outcome, exog, absorb, endog, instruments


def _iv_terms(formula: str, text: str, names: set[str], what: str, allow_one: bool = False) -> list[str]:
    out = []
    for raw in text.split("+"):
        term = raw.strip()
        if not term:
            raise SpecificationError(f"formula {formula!r}: an empty term among the {what}; write 'a + b'.")
        if allow_one and term == "1":
            continue
        bare = term[1:-1] if len(term) > 2 and term.startswith("`") and term.endswith("`") else term
        if bare not in names:
            hint = " (an IV formula takes column names only: make transformed columns first)" if any(
                ch in bare for ch in "()*:^/") else ""  # fmt: skip
            raise SpecificationError(
                f"formula {formula!r}: {term!r} among the {what} is not a column of the data{hint}. Columns are "
                f"written bare or in backticks, joined by '+'."
            )
        out.append(bare)
    return out


def parse_iv_formula(formula: str, columns: Iterable[Any]) -> IVFormula:
    """Split ``"y ~ x1 + x2 | fe1 + fe2 | d1 + d2 ~ z1 + z2"`` (the fixed-effects part optional; ``1`` for no
    covariates) into its roles. Every term must be a column of the data: nothing is evaluated."""
    if not isinstance(formula, str):
        raise SpecificationError(f"formula must be a string, got {type(formula).__name__}.")
    names = {str(c) for c in columns}
    parts = [p.strip() for p in formula.split("|")]
    if len(parts) not in (2, 3) or "~" not in parts[0] or parts[-1].count("~") != 1:
        raise SpecificationError(
            f"formula {formula!r} is not an IV formula; write 'y ~ covariates | endogenous ~ instruments' or "
            "'y ~ covariates | fixed effects | endogenous ~ instruments' (pyfixest's syntax; '1' for no covariates)."
        )
    lhs, rhs = (s.strip() for s in parts[0].split("~", 1))
    outcome = _iv_terms(formula, lhs, names, "outcome")
    if len(outcome) != 1:
        raise SpecificationError(f"formula {formula!r} must have exactly one outcome on the left of '~'.")
    exog = _iv_terms(formula, rhs, names, "covariates", allow_one=True) if rhs not in ("", "1") else []
    absorb = _iv_terms(formula, parts[1], names, "fixed effects") if len(parts) == 3 else []
    endog_text, instr_text = parts[-1].split("~", 1)
    endog = _iv_terms(formula, endog_text, names, "endogenous regressors")
    instruments = _iv_terms(formula, instr_text, names, "instruments")
    return IVFormula(outcome[0], exog, absorb, endog, instruments)
