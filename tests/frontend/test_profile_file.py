"""The profile file format: its schema is current, the example follows it, sources stay home."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from shipyard.errors import UsageError
from shipyard.frontend.profile_file import load_profile, profile_json_schema
from shipyard.frontend.profiles import render

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "profile.yml"


def test_the_schema_in_docs_is_current() -> None:
    written = json.loads((ROOT / "docs" / "profile.schema.json").read_text())
    assert written == profile_json_schema(), (
        "run `python -m shipyard.frontend.profile_file > docs/profile.schema.json`"
    )


def test_the_example_follows_the_schema_and_renders_for_a_host() -> None:
    Draft202012Validator(profile_json_schema()).validate(yaml.safe_load(EXAMPLE.read_text()))
    profile = load_profile(EXAMPLE)
    host = {"name": "compute-0-3", "appliance": "compute", "rack": 0, "rank": 3, "ips": []}
    rendered = render(profile, host=host, attributes={"ntp_server": "10.0.0.1"})
    files = {f.path: f.content for f in rendered.files}
    assert files["/etc/chrony/sources.d/site.sources"] == "server 10.0.0.1 iburst\n"
    assert files["/etc/motd"].startswith("compute-0-3: a compute node")
    assert [s.name for s in rendered.scripts] == ["10-enable-chrony", "20-node-setup"]
    assert 'echo "compute-0-3" > /var/lib/compute/name' in rendered.scripts[1].content


@pytest.mark.parametrize("source", ["../outside.txt", "/etc/passwd", "link"])
def test_a_source_outside_the_profiles_folder_is_refused(tmp_path: Path, source: str) -> None:
    (tmp_path / "outside.txt").write_text("secret\n")
    folder = tmp_path / "profiles"
    folder.mkdir()
    (folder / "link").symlink_to(tmp_path / "outside.txt")
    profile = folder / "p.yml"
    profile.write_text(f"files:\n  - path: /etc/x\n    source: {source}\n")
    with pytest.raises(UsageError, match="is outside the profile's folder") as caught:
        load_profile(profile)
    assert "secret" not in str(caught.value)


def test_a_script_needs_its_text_one_way_only() -> None:
    validator = Draft202012Validator(profile_json_schema())
    assert not validator.is_valid({"scripts": [{"name": "a"}]})
    assert not validator.is_valid({"files": [{"path": "/x", "content": "a", "source": "b"}]})
    assert validator.is_valid({"scripts": [{"name": "a", "source": "a.sh"}]})
