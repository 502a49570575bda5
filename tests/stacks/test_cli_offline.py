"""`shipyard stacks render|lint|list` without AWS, as a user types them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from shipyard.cli.main import main

BROKEN = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      Versioning: true
"""


def test_render_a_recipe_as_yaml_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stacks", "render", "web", "--dir", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "AWS::AutoScaling::AutoScalingGroup" in text
    out = tmp_path / "web.json"
    assert main(["stacks", "render", "web", "--format", "json", "-o", str(out)]) == 0
    assert json.loads(out.read_text())["Parameters"]["ImageId"]["Type"] == "AWS::EC2::Image::Id"


def test_render_a_stack_file_by_its_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "net.yml").write_text("name: net-{env}\nrecipe: network\n")
    assert main(["stacks", "render", "net-dev", "--dir", str(tmp_path), "--var", "env=dev"]) == 0
    assert "AWS::EC2::VPC" in capsys.readouterr().out


def test_lint_reports_file_line_rule_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "t.yml"
    path.write_text(BROKEN)
    assert main(["stacks", "lint", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{path}:6: E3002: ")
    assert main(["stacks", "lint", "network"]) == 0


def test_a_wrong_stack_file_is_one_sentence_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.yml").write_text("name: a\nrecipe: web\nparamters: {}\n")
    assert main(["stacks", "render", "a", "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path}/a.yml:3: paramters: unknown key; did you mean 'parameters'?" in err
    assert "Traceback" not in err


def test_list_shows_recipes_and_stack_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "net.yml").write_text("name: net\nrecipe: network\n")
    assert main(["stacks", "list", "--offline", "--json", "--dir", str(tmp_path)]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in listed["recipes"]} >= {"network", "web", "beanstalk"}
    assert listed["stacks"][0]["name"] == "net"

    assert main(["stacks", "list", "--offline", "--dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "recipes" and lines[1].split() == ["RECIPE", "WHAT", "IT", "MAKES"]
    net = next(line for line in lines if line.startswith("net "))
    assert net.split()[:2] == ["net", "network"]
    assert not any(ch in "".join(lines) for ch in "│┃─━┏┌")  # the one plain table style


def test_an_unknown_verb_points_at_the_stacki_grammar(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["stacks", "deplyo", "web"])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "did you mean `shipyard stacks deploy`?" in err
    assert "shipyard stack deplyo" in err


def test_render_json_flag_prints_the_template_document(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stacks", "render", "s3", "--json"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["Resources"]["Bucket"]


def test_the_stacki_grammar_points_at_stacks_for_a_stacks_verb(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHIPYARD_ADMIN_TOKEN", raising=False)
    assert main(["stack", "deploy", "web-dev"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'stack deploy web-dev'" in err
    assert "`shipyard stacks deploy web-dev`" in err
