"""The tools that write a disk see one date and one time zone, wherever the build runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shipyard.build.reproducible import dated
from shipyard.disk.filesystems import make_esp
from shipyard.disk.layout import plan_layout

MiB = 1024 * 1024


def _esp_bytes(tmp_path: Path, zone: str, monkeypatch: pytest.MonkeyPatch) -> bytes:
    folder = tmp_path / zone.replace("/", "-")
    folder.mkdir()
    loader = folder / "BOOTX64.EFI"
    loader.write_bytes(b"loader")
    os.utime(loader, (1700000000, 1700000000))
    layout = plan_layout(512 * MiB, ("uefi",), seed="same")
    image = folder / "disk.raw"
    with open(image, "wb") as fh:
        fh.truncate(layout.size)
    monkeypatch.setenv("TZ", zone)
    with dated(1700000000):
        make_esp(image, layout, {"/EFI/BOOT/BOOTX64.EFI": loader}, folder / "log")
    assert os.environ["TZ"] == zone
    part = layout.find("esp")
    assert part is not None
    with open(image, "rb") as fh:
        fh.seek(part.start)
        return fh.read(part.size)


def test_the_esp_is_the_same_in_every_time_zone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    east = _esp_bytes(tmp_path, "Pacific/Kiritimati", monkeypatch)
    west = _esp_bytes(tmp_path, "America/Anchorage", monkeypatch)
    assert east == west


def test_dated_restores_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    monkeypatch.setenv("TZ", "Europe/Paris")
    with dated(42):
        assert os.environ["SOURCE_DATE_EPOCH"] == "42"
        assert os.environ["TZ"] == "UTC"
    assert "SOURCE_DATE_EPOCH" not in os.environ
    assert os.environ["TZ"] == "Europe/Paris"
