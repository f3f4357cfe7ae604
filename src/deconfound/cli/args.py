"""Reading the command line's arguments: helpers every command shares, and the flags of the methods.

The flags of ``estimate`` (and ``plot``) come from the method registry
(:mod:`deconfound.estimators.registry`): each option there becomes ``--name-with-dashes``, in the help group
of its method family, and :func:`convert` reads its text by the option's ``kind``. Nothing here imports a
numeric library, so building the parser stays fast.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..estimators.registry import DEFAULT_METHOD, FAMILIES, OPTIONS, REGISTRY, Option, cli_methods


def coerce_level(value: str) -> Any:
    """A ``--treated-level`` as a number when it reads as one (the column's values may be numbers)."""
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            continue
    return value


def graph_arg(args: argparse.Namespace, what: str) -> Any:
    """The --graph value: the graph text itself, or a path to a file holding it (compact form or DOT)."""
    import os

    from ..errors import SpecificationError

    value = getattr(args, "graph", None)
    if value is None:
        raise SpecificationError(f'{what} needs --graph, e.g. --graph "Z -> T; Z -> Y; T -> Y" (or a .dot file).')
    if os.path.isfile(value):
        return read_text_file(value, "--graph", "a graph file (compact form or DOT)")
    if os.path.isdir(value):
        raise SpecificationError(f"--graph {value!r} is a directory; give the graph text or a file holding it.")
    if _looks_like_path(value) and not os.path.exists(value):
        raise SpecificationError(
            f"--graph {value!r} looks like a file name, but there is no such file; check the path, or give the "
            'graph itself, e.g. --graph "Z -> T; Z -> Y; T -> Y".'
        )
    return value


#: extensions of graph files: a --graph value ending in one of them is a path, not graph text
GRAPH_FILE_SUFFIXES = (".dot", ".gv", ".txt")


def _looks_like_path(value: str) -> bool:
    """A --graph value that names a file: ends in a graph file's extension, or holds a path separator and no
    edge (graph text always has an arrow or a DOT brace)."""
    import os

    if any(mark in value for mark in ("->", "<-", "--", "{", ";")):
        return False
    separators = {os.sep, "/"} | ({os.altsep} if os.altsep else set())
    return value.lower().endswith(GRAPH_FILE_SUFFIXES) or any(sep in value for sep in separators)


def read_text_file(path: Any, flag: str, what: str) -> str:
    """The text of a UTF-8 file named on the command line, or our error naming ``flag`` (binary, not UTF-8)."""
    from ..errors import SpecificationError

    with open(path, "rb") as handle:
        raw = handle.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpecificationError(
            f"{flag} {str(path)!r} is not a UTF-8 text file (byte {exc.start} cannot be decoded); "
            f"give {what} saved as UTF-8."
        ) from None
    if "\x00" in text:
        raise SpecificationError(f"{flag} {str(path)!r} is a binary file; give {what} saved as UTF-8 text.")
    return text


def observed(args: argparse.Namespace) -> list[str] | None:
    """Observed variables: --observed if given, else the data file's columns, else None (every node)."""
    from .._core.options import as_name_list

    if getattr(args, "observed", None):
        return as_name_list(args.observed, "--observed")
    if getattr(args, "data", None):
        from ..data import available_columns, load_table

        listed = available_columns(args.data)
        return listed if listed is not None else [str(c) for c in load_table(args.data).columns]
    return None


def need(args: argparse.Namespace, name: str) -> Any:
    """``args.name``, which ``--method`` cannot do without."""
    value = getattr(args, name)
    if value is None:
        from ..errors import SpecificationError

        raise SpecificationError(f"--{name.replace('_', '-')} is required for --method {args.method}.")
    return value


def require(args: argparse.Namespace, name: str, what: str) -> Any:
    """``args.name``, which the command ``what`` cannot do without."""
    value = getattr(args, name)
    if value is None:
        from ..errors import SpecificationError

        wanted = "a data file (CSV or Parquet)" if name == "data" else f"--{name.replace('_', '-')}"
        raise SpecificationError(f"{what} needs {wanted}.")
    return value


# --------------------------------------------------------------------------------------------------
# the methods' options: flags from the registry, values read by kind
# --------------------------------------------------------------------------------------------------


def _cross_fit(value: str, option: Option) -> Any:
    if value == "auto":
        return "auto"
    if value.lower() in ("none", "0", "no"):
        return None
    try:
        return int(value)
    except ValueError:
        from ..errors import SpecificationError

        raise SpecificationError(
            f"{option.flag_name} must be 'auto', 'none' or a number of folds, got {value!r}."
        ) from None


def _trim(value: str, option: Option) -> Any:
    if value.lower() == "crump":
        return value
    try:
        return float(value)
    except ValueError:
        from ..errors import SpecificationError

        raise SpecificationError(
            f"{option.flag_name} must be a number in (0, 0.5) or 'crump', got {value!r}."
        ) from None


#: option kind -> how its flag's text becomes the value (kinds not listed: passed as parsed)
_READERS = {"folds": _cross_fit, "trim": _trim}
#: option kind -> argparse type (the number kinds are checked while parsing)
_TYPES: dict[str, Any] = {"int": int, "float": float}


def convert(option: Option, value: Any) -> Any:
    """The value of ``option`` that the method receives, from the parsed flag."""
    reader = _READERS.get(option.kind)
    return value if reader is None else reader(value, option)


def _add(group: Any, option: Option) -> None:
    names = [option.flag_name] + ([option.short] if option.short else [])
    if option.kind == "bool":
        group.add_argument(
            *names, dest=option.dest, action=argparse.BooleanOptionalAction, default=option.default, help=option.help
        )
        return
    group.add_argument(*names, dest=option.dest, type=_TYPES.get(option.kind), default=option.default, help=option.help)


def method_options() -> list[Option]:
    """Every option of a command-line method, each once: the shared ones first, then each method's own."""
    chosen = [REGISTRY[name] for name in cli_methods()]
    seen: set[str] = set()
    out: list[Option] = []
    for option in (*OPTIONS, *(o for method in chosen for o in method.cli_options)):
        if option.dest not in seen:
            seen.add(option.dest)
            out.append(option)
    return out


def add_method_options(p: argparse.ArgumentParser, extra: Any = None) -> None:
    """The ``--method`` choice and every method's flags, grouped by family as in the registry.

    ``extra(p)`` adds the command's general options after the methods' general ones (before the groups)."""
    names = cli_methods()
    p.add_argument(
        "--method",
        "-m",
        default=None,
        help="estimation method (default: compare every method that applies and recommend one, or "
        f"{DEFAULT_METHOD} with --formula): " + ", ".join(names),
    )
    options = method_options()
    for option in options:
        if not option.group:
            _add(p, option)
    if extra is not None:
        extra(p)
    for family, title in FAMILIES.items():
        members = [o for o in options if o.group == family]
        if title is None or not members:
            continue
        methods = [n for n in names if REGISTRY[n].family == family]
        group = p.add_argument_group(f"{title} (methods {', '.join(methods)})")
        for option in members:
            _add(group, option)
