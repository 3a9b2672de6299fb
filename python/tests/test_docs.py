"""docs/python.md's Python blocks run, in order, in one namespace (as a notebook would)."""
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "python.md"


def test_walkthrough_runs(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) >= 4
    monkeypatch.chdir(tmp_path)  # the P@K plot is written here
    namespace = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)
    assert namespace["scores"].ks == [1, 5, 10, 20, 50]
    assert namespace["ot_b"].assignments.shape == (300, 4)
