"""The gates: ruff (lint and format), mypy, and the import layering, over the whole tree.

ruff and mypy come with the test extras and read their configuration from
pyproject.toml. Without them these tests are skipped, saying why, except under
CI=true, where a missing tool fails the run instead of hiding a gate.

The layering: ``asgi -> {intake, staff} -> web -> cases -> crypto``. Each
rule below is its own test, checked on the syntax tree of every file, so an
import inside a function or under ``if TYPE_CHECKING`` counts too.
"""

import ast
import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

# ---------------------------------------------------------------- tools


def _require(module: str) -> None:
    """Skip when a tool is not installed; fail under CI=true, where every gate must run."""
    if importlib.util.find_spec(module) is None:
        reason = f"{module} is not installed (it comes with the test extras: pip install -e '.[test]')"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + "; required under CI=true")
        pytest.skip(reason)


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_check_finds_nothing():
    """Unused imports, undefined names, syntax errors, import order (pyproject.toml [tool.ruff.lint])."""
    _require("ruff")
    result = _run("ruff", "check", "--no-cache", str(ROOT))
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_leaves_every_file_as_it_is():
    _require("ruff")
    result = _run("ruff", "format", "--check", "--no-cache", str(ROOT))
    assert result.returncode == 0, "run `ruff format` on these:\n" + result.stdout + result.stderr


def test_mypy_finds_nothing():
    """mypy over the files that pyproject.toml [tool.mypy] names, with that configuration."""
    _require("mypy")
    # The cache lives outside the tree (nothing to ignore in git) but survives between runs.
    cache = Path(tempfile.gettempdir()) / f"speakup-mypy-{hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]}"
    result = _run("mypy", "--cache-dir", str(cache))
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_missing_tool_fails_under_ci_and_is_skipped_elsewhere(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="required under CI=true"):
        _require("speakup_no_such_tool")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        _require("speakup_no_such_tool")


# ---------------------------------------------------------------- layering

OURS = frozenset({"asgi", "cli", "intake", "staff", "web", "cases", "crypto"})


def imported(path: Path, package: str | None) -> set[str]:
    """The top-level names ``path`` imports. A relative import (``from . import x``,
    ``from ..x import y``) stays inside the file's own ``package``, so it counts as that package."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level > 0:
                assert package is not None, f"{path}: a relative import outside a package"
                names.add(package)
            elif node.module:
                names.add(node.module.split(".")[0])
    return names


@dataclass(frozen=True)
class Rule:
    packages: tuple[str, ...]
    forbidden: frozenset[str]

    def violations(self, root: Path) -> list[str]:
        found = []
        for package in self.packages:
            files = sorted((root / package).rglob("*.py"))
            assert files, f"no Python files under {package}/: the rule checks nothing"
            for path in files:
                wrong = imported(path, package) & self.forbidden
                if wrong:
                    found.append(f"{path.relative_to(root)} imports {', '.join(sorted(wrong))}")
        return found


# The domain knows nothing of the web: no web framework, no layer above it.
DOMAIN_WITHOUT_WEB = Rule(("cases", "crypto"), frozenset({"starlette", "uvicorn", "web", "intake", "staff", "asgi", "cli"}))
# The two faces are siblings: the reporter's side never reaches staff code, nor the reverse.
FACES_APART = [Rule(("intake",), frozenset({"staff"})), Rule(("staff",), frozenset({"intake"}))]
# The shared web layer serves both faces and depends on neither (nor on what mounts them).
WEB_BELOW_FACES = Rule(("web",), frozenset({"intake", "staff", "asgi", "cli"}))
# crypto is pure functions over libsodium: nothing of ours at all.
CRYPTO_ALONE = Rule(("crypto",), OURS - {"crypto"})

RULES = [DOMAIN_WITHOUT_WEB, *FACES_APART, WEB_BELOW_FACES, CRYPTO_ALONE]


def test_cases_and_crypto_import_no_starlette_and_no_layer_above():
    assert DOMAIN_WITHOUT_WEB.violations(ROOT) == []


def test_intake_and_staff_never_import_each_other():
    assert [v for rule in FACES_APART for v in rule.violations(ROOT)] == []


def test_web_imports_neither_face():
    assert WEB_BELOW_FACES.violations(ROOT) == []


def test_crypto_imports_nothing_of_ours():
    assert CRYPTO_ALONE.violations(ROOT) == []


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: "-".join(rule.packages))
@pytest.mark.parametrize("statement", ["import {name}.x", "from {name}.x import y", "def f():\n    from {name} import y\n"])
def test_each_layering_rule_catches_a_forbidden_import(tmp_path, rule, statement):
    for name in sorted(rule.forbidden):
        for package in rule.packages:
            (tmp_path / package / "sub").mkdir(parents=True, exist_ok=True)
            (tmp_path / package / "__init__.py").write_text("")
            (tmp_path / package / "sub" / "bad.py").write_text("from . import fine\n" + statement.format(name=name) + "\n")
        found = rule.violations(tmp_path)
        assert len(found) == len(rule.packages) and all(name in line for line in found), (name, found)


def test_relative_imports_count_as_the_importing_package(tmp_path):
    (tmp_path / "cases" / "deep").mkdir(parents=True)
    (tmp_path / "crypto").mkdir()
    (tmp_path / "crypto" / "pure.py").write_text("from .kdf import derive\n")
    path = tmp_path / "cases" / "deep" / "module.py"
    path.write_text("from . import a\nfrom .. import b\nfrom ..errors import C\nimport starlette.requests\n")
    assert imported(path, "cases") == {"cases", "starlette"}
    assert imported(tmp_path / "crypto" / "pure.py", "crypto") == {"crypto"}
    assert DOMAIN_WITHOUT_WEB.violations(tmp_path) == ["cases/deep/module.py imports starlette"]
    assert CRYPTO_ALONE.violations(tmp_path) == []


def test_a_rule_over_a_missing_package_fails_rather_than_passing_empty(tmp_path):
    with pytest.raises(AssertionError, match="no Python files under web/"):
        WEB_BELOW_FACES.violations(tmp_path)
