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
