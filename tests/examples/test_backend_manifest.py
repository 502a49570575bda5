"""examples/backend.yml, the frontend's backend image, as `shipyard manifest validate` sees it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shipyard.cli.main import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_backend_manifest_is_the_minimal_image_with_the_agent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["manifest", "validate", str(EXAMPLES / "backend.yml"), "--json"]) == 0
    backend = json.loads(capsys.readouterr().out)
    assert main(["manifest", "validate", str(EXAMPLES / "minimal.yml"), "--json"]) == 0
    minimal = json.loads(capsys.readouterr().out)
    assert backend["agent"] == "shipyard"
    assert backend["flavour"] == "backend"
    assert backend["name"].startswith("shipyard-backend-")
    assert backend["formats"] == ["raw"]
    for key in ("system", "packages", "volume"):
        assert backend[key] == minimal[key]
