import deconfound as dc


def test_all_is_sorted_and_exists():
    assert list(dc.__all__) == sorted(dc.__all__)
    for name in dc.__all__:
        assert hasattr(dc, name), name


def test_error_tree():
    assert issubclass(dc.DataError, dc.DeconfoundError)
    assert issubclass(dc.DataError, ValueError)
    assert issubclass(dc.CollinearityError, dc.SpecificationError)
    assert issubclass(dc.NotFittedError, AttributeError)
    assert issubclass(dc.ConvergenceError, RuntimeError)
    assert issubclass(dc.DiagnosticWarning, dc.DeconfoundWarning)
    assert issubclass(dc.DeconfoundWarning, UserWarning)


def test_all_is_complete():
    """``__all__`` holds every registered method's function, the exception tree and exactly the names the
    ``TYPE_CHECKING`` block imports for type checkers (so that the two lists cannot drift apart)."""
    import ast
    from pathlib import Path

    from deconfound import errors
    from deconfound.estimators.registry import REGISTRY

    tree = ast.parse(Path(dc.__file__).read_text(encoding="utf-8"))
    block = next(n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING")
    typed = {alias.asname or alias.name for node in block.body for alias in node.names}
    public = set(dc.__all__)
    assert typed == public - set(errors.__all__) - {"__version__"}
    assert {m.target.split(":")[1] for m in REGISTRY.values()} <= public
    assert set(errors.__all__) <= public
