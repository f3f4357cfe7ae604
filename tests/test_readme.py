"""The README's Python examples run as written, in order, in one session (as a reader would paste them).

Lines holding a `[...]` placeholder are left out."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import matplotlib

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_python_examples_run_in_order(tmp_path, monkeypatch):
    assert len(BLOCKS) >= 3
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for index, block in enumerate(BLOCKS):
            code = "\n".join(line for line in block.splitlines() if "[...]" not in line)
            exec(compile(code, f"README.md python block {index}", "exec"), namespace)
    assert round(namespace["fit"].estimate, 2) == -9.89  # type: ignore[attr-defined]
