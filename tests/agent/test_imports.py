"""The agent is copied alone into images: it may import only the standard library."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import shipyard.agent

AGENT_DIR = Path(shipyard.agent.__file__).parent


def imported_modules(path: Path) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [
                (alias.name, node.level if hasattr(node, "level") else 0) for alias in node.names
            ]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.module or "", node.level))
    return found


def test_the_agent_imports_only_the_standard_library_and_itself() -> None:
    files = sorted(AGENT_DIR.rglob("*.py"))
    assert files
    for path in files:
        for module, level in imported_modules(path):
            if level > 0:
                continue  # relative: inside the agent package
            top = module.split(".")[0]
            assert top in sys.stdlib_module_names or top == "__future__", (
                f"{path.name} imports {module}, which is not in the standard library"
            )


def test_the_agent_runs_as_a_module_outside_the_project(tmp_path: Path) -> None:
    import shutil
    import subprocess

    target = tmp_path / "shipyard" / "agent"
    shutil.copytree(AGENT_DIR, target, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "shipyard" / "__init__.py").write_text("")
    # Run by the system's python3 from a folder holding only the copy, as in an image.
    result = subprocess.run(
        ["python3", "-m", "shipyard.agent", "--help"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "first-boot agent" in result.stdout


def test_a_first_boot_with_nothing_to_run_imports_nothing_heavy(tmp_path: Path) -> None:
    """Each module is paid for at every first boot, ten to twenty times over under
    emulation: HTTP comes from the agent's own reader, not http.client (email, ssl), and
    typing, tempfile and subprocess stay out until something needs them."""
    import shutil
    import subprocess

    target = tmp_path / "shipyard" / "agent"
    shutil.copytree(AGENT_DIR, target, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "shipyard" / "__init__.py").write_text("")
    probe = "import sys, shipyard.agent.main; print(' '.join(sorted(sys.modules)))"
    result = subprocess.run(
        ["python3", "-S", "-c", probe],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = set(result.stdout.split())
    heavy = {"http.client", "email", "ssl", "typing", "tempfile", "subprocess", "shutil"}
    assert not heavy & loaded, f"the agent's boot imports {sorted(heavy & loaded)}"
