"""Rules a machine checks, run with the suite (so CI runs them): ruff's lint rules and the
import-linter layer contracts in pyproject.toml."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return found


def test_ruff_lint_rules_pass():
    result = subprocess.run([_tool("ruff"), "check", "."], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]


def test_import_contracts_hold():
    result = subprocess.run([_tool("lint-imports")], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "broken" not in result.stdout.split("Contracts:")[-1].replace("0 broken", "")


def test_no_module_imports_itself_back_through_a_circle():
    """No circle in the import graph of segviewer and training, lazy imports included
    (issue 31 found evaluate <-> evaluate_models)."""
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("segviewer", "training")
    modules = sorted(graph.modules)
    circles = []
    for module in modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if imported != module and graph.chain_exists(importer=imported, imported=module):
                circles.append(f"{module} -> {imported} -> ... -> {module}")
    assert not circles, "\n".join(circles)
