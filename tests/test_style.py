"""The code has no unused imports, undefined names or syntax errors (ruff, configured in pyproject.toml)."""

import ast
import shutil
import subprocess

import pytest

from tests.conftest import ROOT


def test_ruff_finds_nothing():
    ruff = shutil.which("ruff", path=str(ROOT / ".venv" / "bin")) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (it comes with the test extras)")
    result = subprocess.run([ruff, "check", "--no-cache", str(ROOT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _imported(path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_imports_flow_one_way():
    """asgi -> intake -> cases -> crypto: crypto imports nothing of ours, cases never imports intake."""
    forbidden = {"crypto": {"cases", "intake", "asgi", "cli"}, "cases": {"intake", "asgi", "cli"}}
    for package, names in forbidden.items():
        for path in (ROOT / package).rglob("*.py"):
            wrong = _imported(path) & names
            assert not wrong, f"{path.relative_to(ROOT)} imports {wrong}"
