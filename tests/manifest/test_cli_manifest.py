"""``shipyard manifest validate|schema`` through the CLI entry point."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from shipyard.cli.main import main

WriteFiles = Callable[..., Path]


@pytest.fixture
def good(write: WriteFiles) -> str:
    write("base.yml", "system: {release: bookworm}\nformats: [raw, qcow2]\n")
    write("setup.sh", "echo\n")
    write(
        "web.yml",
        "extends: base.yml\nflavour: web\nprovision:\n  - shell: echo\n  - script: setup.sh\n",
    )
    return "web.yml"


def test_validate_prints_a_summary(good: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["manifest", "validate", good]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("web.yml: valid (debian-{release}-{flavour}-{arch}-{date}; ")
    assert "bookworm amd64" in out
    assert "2 provision steps" in out
    assert "formats raw, qcow2" in out
    assert "extends base.yml" in out
    assert err == ""


def test_validate_json_prints_the_resolved_manifest(
    good: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["manifest", "validate", good, "--json", "--set", "volume.size=3GiB"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["flavour"] == "web"
    assert document["volume"]["size"] == 3 * 1024**3
    assert document["provision"][1] == {"script": str(tmp_path / "setup.sh")}


def test_validate_error_is_one_line_and_exit_2(
    write: WriteFiles, capsys: pytest.CaptureFixture[str]
) -> None:
    write("bad.yml", "name: x\nvolume:\n  size: huge\n")
    assert main(["manifest", "validate", "bad.yml"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "shipyard: error: bad.yml:3: volume.size: 'huge' is not a size; "
        "use a number and a unit such as 2GiB or 512MiB\n"
    )


def test_validate_bad_set_exits_2(good: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["manifest", "validate", good, "--set", "volume"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("shipyard: error: --set volume: expected KEY.PATH=VALUE")
    assert "Traceback" not in err


def test_validate_missing_file_exits_2(
    write: WriteFiles, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["manifest", "validate", "nope.yml"]) == 2
    assert capsys.readouterr().err == "shipyard: error: nope.yml: no such manifest file\n"


def test_schema_prints_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["manifest", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "Shipyard manifest"
    assert schema["additionalProperties"] is False


def test_manifest_needs_a_verb(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["manifest"])
    assert caught.value.code == 2
