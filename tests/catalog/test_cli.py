"""`shipyard catalog ...` as a user runs it, and the catalog publish target."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shipyard.cli.main import main
from shipyard.manifest.schema import CatalogTarget
from shipyard.publish.catalog import publish

BuildMaker = Callable[..., Path]


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_add_resolve_list_show_deprecate(
    tmp_path: Path, make_build: BuildMaker, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "store")
    older = make_build(created="2026-11-19T09:00:00+00:00")
    newer = make_build(created="2026-11-20T09:00:00+00:00")
    added = run_json(capsys, "catalog", "add", str(older), "--store", store, "--channel", "stable")
    assert added["version"] == "20261119" and added["channel"] == "stable" and added["changed"]
    run_json(capsys, "catalog", "add", str(newer), "--store", store)
    again = run_json(capsys, "catalog", "add", str(newer), "--store", store)
    assert not again["changed"]

    image = run_json(capsys, "catalog", "resolve", "flavour=minimal", "--store", store)
    assert image["version"] == "20261120"
    stable = run_json(capsys, "catalog", "resolve", "channel=stable", "--store", store)
    assert stable["version"] == "20261119"
    listed = run_json(capsys, "catalog", "list", "--store", store)
    assert [i["version"] for i in listed] == ["20261120", "20261119"]
    shown = run_json(capsys, "catalog", "show", "20261120", "--store", store)
    assert shown["packages"]["hello"] == "2.10-3" and shown["build_id"] == newer.name

    run_json(capsys, "catalog", "deprecate", "20261120", "--store", store)
    assert run_json(capsys, "catalog", "resolve", "--store", store)["version"] == "20261119"
    run_json(capsys, "catalog", "deprecate", "20261120", "--undo", "--store", store)
    run_json(capsys, "catalog", "promote", "20261120", "--store", store)
    stable = run_json(capsys, "catalog", "resolve", "channel=stable", "--store", store)
    assert stable["version"] == "20261120"
    record = json.loads((newer / "build.json").read_text())
    assert record["catalog"][0]["version"] == "20261120"


def test_errors_are_one_sentence(
    tmp_path: Path, make_build: BuildMaker, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "store")
    assert main(["catalog", "resolve", "--store", store]) == 4
    assert "has no streams/v1/index.sjson" in capsys.readouterr().err
    main(["catalog", "add", str(make_build()), "--store", store])
    capsys.readouterr()
    assert main(["catalog", "resolve", "flavour=db", "--store", store]) == 4
    err = capsys.readouterr().err
    assert err.strip() == "shipyard: error: no image in the catalog matches flavour=db"
    assert main(["catalog", "resolve", "flavour", "--store", store]) == 2
    assert "is not a filter" in capsys.readouterr().err
    assert main(["catalog", "show", "20990101", "--store", store]) == 4
    assert "has no version 20990101" in capsys.readouterr().err


def test_publish_target_adds_to_the_named_store(tmp_path: Path, make_build: BuildMaker) -> None:
    store = tmp_path / "published"
    result = publish(make_build(), CatalogTarget(to="catalog", store=str(store), channel="stable"))
    assert result.target == "catalog" and result.channel == "stable"
    assert (store / "streams" / "v1" / "index.sjson").is_file()


def test_key_prints_the_public_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog", "key"]) == 0
    assert capsys.readouterr().out.startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")


def test_serve_then_pull_with_an_exported_key(
    tmp_path: Path, make_build: BuildMaker, capsys: pytest.CaptureFixture[str]
) -> None:
    import os
    import subprocess
    import sys
    import time

    import httpx
    from awsloop import free_port

    store = str(tmp_path / "store")
    build = make_build(formats=("raw",))
    assert main(["catalog", "add", str(build), "--store", store]) == 0
    # Progress on stderr, a line per step when it is not a terminal.
    steps = capsys.readouterr().err.splitlines()
    assert steps[0].startswith("shipyard: storing disk.raw (") and steps[-1] == (
        "shipyard: signing the index"
    )
    assert main(["catalog", "key"]) == 0
    key = tmp_path / "catalog.asc"
    key.write_text(capsys.readouterr().out)
    token = tmp_path / "token"
    token.write_text("t0ken\n")
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "shipyard.cli.main",
            "catalog",
            "serve",
            "--store",
            store,
            "--listen",
            f"127.0.0.1:{port}",
            "--admin-token-file",
            str(token),
        ],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/openapi.json", timeout=2)
                break
            except httpx.HTTPError:
                assert server.poll() is None and time.monotonic() < deadline, "server died"
                time.sleep(0.2)
        out = tmp_path / "pulled"
        pulled = run_json(
            capsys, "catalog", "pull", url, "flavour=minimal", "-o", str(out), "--keyring", str(key)
        )
        (got,) = pulled["files"]
        assert Path(got["path"]).read_bytes() == (build / "disk.raw").read_bytes()
        assert "downloading" not in capsys.readouterr().err  # --json: nothing but the JSON
        again = tmp_path / "again"
        assert main(["catalog", "pull", url, "-o", str(again), "--keyring", str(key)]) == 0
        assert "shipyard: downloading disk.raw (" in capsys.readouterr().err
        change = httpx.post(
            f"{url}/api/v1/images/20261120",
            json={"deprecated": True},
            headers={"Authorization": "Bearer t0ken"},
        )
        assert change.status_code == 200
        assert main(["catalog", "pull", url, "-o", str(out), "--keyring", str(key)]) == 1
        assert "has no image matching ftype=raw" in capsys.readouterr().err
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_shipyard_publish_to_catalog(
    tmp_path: Path, make_build: BuildMaker, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "published"
    build = make_build()
    assert main(["publish", str(build), "--to", "catalog", "--store", str(store)]) == 0
    capsys.readouterr()
    image = run_json(capsys, "catalog", "resolve", "--store", str(store))
    assert image["build_id"] == build.name and image["channel"] == "daily"


def test_a_wrong_setting_is_named_by_its_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The catalog says which setting is wrong ("keep"); the CLI names it as its flag.
    store = str(tmp_path / "store")
    assert main(["catalog", "prune", "--keep", "0", "--store", store]) == 2
    err = capsys.readouterr().err
    assert err.startswith("shipyard: error: --keep: must be at least 1")
