"""Domain code names no command-line flag in what it raises: the CLI maps settings to flags."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import shipyard

DOMAIN = ("aws", "build", "catalog", "disk", "frontend", "manifest", "vm")
INTERFACES = ("catalog/api/", "frontend/api/", "frontend/server.py")
FLAG = re.compile(r"(^|[\s(`])--[a-z][a-z-]+")


def _raised_texts(tree: ast.AST) -> list[tuple[int, str]]:
    """Every string written into a raised error's message or hint."""
    texts = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            for part in ast.walk(node.exc):
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    texts.append((part.lineno, part.value))
    return texts


def test_domain_errors_name_no_flag() -> None:
    root = Path(shipyard.__file__).parent
    found = []
    for package in DOMAIN:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            if relative.startswith(INTERFACES):
                continue
            for line, text in _raised_texts(ast.parse(path.read_text())):
                if FLAG.search(text):
                    found.append(f"{relative}:{line}: {text}")
    assert found == []
