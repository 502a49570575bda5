"""The configure and finalize stages' file work, on a bare directory standing in for the root."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from shipyard.build.cache import Cache
from shipyard.build.configure import (
    configure_apt,
    configure_fstab,
    configure_grub,
    configure_hostname,
    configure_network,
    configure_ssh,
    configure_timezone,
    install_boot_units,
)
from shipyard.build.context import BuildContext
from shipyard.build.finalize import clean_root
from shipyard.cleanup import Cleanup
from shipyard.disk.layout import plan_layout
from shipyard.errors import BuildError
from shipyard.manifest.schema import Manifest


def _ctx(tmp_path: Path, **manifest: object) -> BuildContext:
    m = Manifest.model_validate({"agent": "none", **manifest})
    ctx = BuildContext(
        manifest=m,
        manifest_path=tmp_path / "m.yml",
        manifest_sha256="0" * 64,
        build_id="b",
        name="n",
        build_dir=tmp_path,
        work_dir=tmp_path / "work",
        cache=Cache(tmp_path / "cache"),
        cleanup=Cleanup(),
        log_file=tmp_path / "log",
        layout=plan_layout(m.volume.size, m.volume.boot),
    )
    (ctx.root / "etc").mkdir(parents=True)
    return ctx


def test_timezone_links_localtime_into_zoneinfo(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, system={"timezone": "Europe/Berlin"})
    zone = ctx.in_root("/usr/share/zoneinfo/Europe/Berlin")
    zone.parent.mkdir(parents=True)
    zone.write_bytes(b"TZif")
    configure_timezone(ctx)
    assert ctx.in_root("/etc/localtime").readlink() == Path("/usr/share/zoneinfo/Europe/Berlin")
    assert ctx.in_root("/etc/timezone").read_text() == "Europe/Berlin\n"


def test_unknown_timezone_is_named(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, system={"timezone": "Mars/Olympus"})
    with pytest.raises(BuildError, match="'Mars/Olympus' is not a time zone known to tzdata"):
        configure_timezone(ctx)


def test_utc_needs_no_tzdata(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    configure_timezone(ctx)
    assert ctx.in_root("/etc/localtime").readlink() == Path("/usr/share/zoneinfo/Etc/UTC")


def test_hostname_and_hosts(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, system={"hostname": "web-1"})
    configure_hostname(ctx)
    assert ctx.in_root("/etc/hostname").read_text() == "web-1\n"
    assert "127.0.1.1\tweb-1" in ctx.in_root("/etc/hosts").read_text()


def test_fstab_without_uefi_has_no_esp(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, volume={"boot": ["bios"]})
    configure_fstab(ctx)
    fstab = ctx.in_root("/etc/fstab").read_text()
    assert f"UUID={ctx.layout.root_fs_uuid}\t/\text4" in fstab
    assert "/boot/efi" not in fstab


def test_the_esp_is_mounted_on_first_use_not_at_boot(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, volume={"boot": ["uefi", "bios"]})
    configure_fstab(ctx)
    esp = next(
        line for line in ctx.in_root("/etc/fstab").read_text().splitlines() if "/boot/efi" in line
    )
    assert esp.startswith(f"UUID={ctx.layout.esp_fs_uuid}\t/boot/efi\tvfat\t")
    assert "x-systemd.automount" in esp.split("\t")[3]


@pytest.mark.parametrize(
    ("types", "made"),
    [(None, ["ed25519", "ecdsa"]), (["rsa", "ed25519"], ["rsa", "ed25519"])],
)
def test_instances_make_host_keys_of_the_manifest_types_and_sshd_uses_only_those(
    tmp_path: Path, types: list[str] | None, made: list[str]
) -> None:
    ctx = _ctx(tmp_path, system={"ssh_host_keys": types} if types else {})
    install_boot_units(ctx)
    configure_ssh(ctx)
    script = ctx.in_root("/usr/lib/shipyard/ssh-host-keys").read_text()
    assert f"for type in {' '.join(made)}; do" in script
    sshd = ctx.in_root("/etc/ssh/sshd_config.d/50-shipyard.conf").read_text()
    host_keys = [line.split()[1] for line in sshd.splitlines() if line.startswith("HostKey ")]
    assert host_keys == [f"/etc/ssh/ssh_host_{t}_key" for t in made]
    unit = ctx.in_root("/etc/systemd/system/shipyard-ssh-keygen.service").read_text()
    assert [line for line in unit.splitlines() if line.startswith("Condition")] == [
        f"ConditionPathExists=|!/etc/ssh/ssh_host_{t}_key" for t in made
    ]
    assert "Before=ssh.service" in unit and "DefaultDependencies=no" in unit
    wants = ctx.in_root("/etc/systemd/system/ssh.service.wants/shipyard-ssh-keygen.service")
    assert wants.is_symlink()


@pytest.mark.parametrize(
    ("present", "runs"),
    [([], True), (["ed25519"], True), (["ecdsa"], True), (["ed25519", "ecdsa"], False)],
)
def test_the_keygen_unit_runs_while_any_key_is_missing(
    tmp_path: Path, present: list[str], runs: bool
) -> None:
    """Evaluated by systemd itself: an image whose first key exists but whose second
    does not (a key removed, a type added) still gets the missing one."""
    ctx = _ctx(tmp_path)
    install_boot_units(ctx)
    unit = ctx.in_root("/etc/systemd/system/shipyard-ssh-keygen.service").read_text()
    keys = tmp_path / "keys"
    keys.mkdir()
    for key_type in present:
        (keys / f"ssh_host_{key_type}_key").write_text("key")
    conditions = [
        line.replace("/etc/ssh/", f"{keys}/")
        for line in unit.splitlines()
        if line.startswith("Condition")
    ]
    result = subprocess.run(
        ["systemd-analyze", "condition", *conditions], capture_output=True, timeout=30
    )
    assert (result.returncode == 0) is runs, result.stderr


def test_sshd_starts_without_testing_its_configuration_twice(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    install_boot_units(ctx)
    dropin = ctx.in_root("/etc/systemd/system/ssh.service.d/50-shipyard.conf").read_text()
    assert dropin.splitlines() == ["[Service]", "ExecStartPre="]


def test_the_host_key_script_makes_each_missing_key_once(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    install_boot_units(ctx)
    script = ctx.in_root("/usr/lib/shipyard/ssh-host-keys").read_text()
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "ssh_host_ecdsa_key").write_text("kept")
    local = tmp_path / "host-keys.sh"
    local.write_text(script.replace("/etc/ssh/", f"{keys}/"))
    subprocess.run(["sh", str(local)], check=True, capture_output=True, timeout=60)
    assert (keys / "ssh_host_ecdsa_key").read_text() == "kept"
    made = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(keys / "ssh_host_ed25519_key.pub")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "(ED25519)" in made.stdout
    assert not (keys / "ssh_host_rsa_key").exists()


def test_network_dhcp_on_every_ethernet_and_resolved(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    for unit in ("systemd-networkd.service", "systemd-resolved.service"):
        path = ctx.in_root(f"/usr/lib/systemd/system/{unit}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("[Unit]\n")
    ctx.in_root("/lib").symlink_to("usr/lib")
    configure_network(ctx)
    network = ctx.in_root("/etc/systemd/network/90-shipyard-dhcp.network").read_text()
    assert "Type=ether" in network and "DHCP=yes" in network
    # No duplicate address detection on any link, those there at boot and those that
    # come later: it held every link's configured state back by 1 to 2 s.
    sysctl = ctx.in_root("/etc/sysctl.d/60-shipyard-ipv6-dad.conf").read_text().splitlines()
    assert sysctl == [
        "net.ipv6.conf.default.accept_dad = 0",
        "net.ipv6.conf.*.accept_dad = 0",
    ]
    wants = ctx.in_root("/etc/systemd/system/multi-user.target.wants")
    assert sorted(p.name for p in wants.iterdir()) == [
        "systemd-networkd.service",
        "systemd-resolved.service",
    ]
    assert ctx.in_root("/etc/resolv.conf").readlink() == Path(
        "../run/systemd/resolve/stub-resolv.conf"
    )


def test_apt_sources_follow_the_manifest_mirror(tmp_path: Path) -> None:
    ctx = _ctx(
        tmp_path,
        system={"release": "trixie"},
        packages={"mirror": "http://mirror.example/debian", "components": ["main", "contrib"]},
    )
    configure_apt(ctx)
    sources = ctx.in_root("/etc/apt/sources.list.d/debian.sources").read_text()
    assert "URIs: http://mirror.example/debian\nSuites: trixie trixie-updates" in sources
    assert "Suites: trixie-security\nComponents: main contrib" in sources


def test_grub_cfg_is_in_the_root_before_finalize_and_survives_it(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    configure_grub(ctx)
    keys = ctx.in_root("/etc/ssh")
    keys.mkdir()
    for name in ("ssh_host_ed25519_key", "ssh_host_ed25519_key.pub", "sshd_config"):
        (keys / name).write_text("x")
    (ctx.in_root("/var/lib/dbus")).mkdir(parents=True)
    clean_root(ctx)
    grub = ctx.in_root("/boot/grub/grub.cfg").read_text()
    assert f"root=UUID={ctx.layout.root_fs_uuid}" in grub
    assert sorted(p.name for p in keys.iterdir()) == ["sshd_config"]


def test_units_a_cloud_instance_has_no_use_for_are_masked(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    install_boot_units(ctx)
    for unit in ("modprobe@loop.service", "modprobe@dm_mod.service", "e2scrub_reap.service"):
        link = ctx.in_root(f"/etc/systemd/system/{unit}")
        assert link.is_symlink() and str(link.readlink()) == "/dev/null", unit
