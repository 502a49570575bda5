"""Stack files: read with line-accurate errors, variables, references between stacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.errors import StackFileError
from shipyard.stacks.files import find_stack, load_folder, load_stack_file
from shipyard.stacks.model import OutputRef

WEB = """\
name: web-{env}
recipe: web
region: us-east-1
vars: {env: dev}
image: {flavour: web, release: bookworm, arch: amd64, channel: stable}
parameters:
  VpcId: {stack: "network-{env}", output: VpcId}
  InstanceType: t3.small
  MinSize: 2
tags: {team: images}
"""


def write(tmp_path: Path, text: str, name: str = "s.yml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_stack_file_with_variables_and_references(tmp_path: Path) -> None:
    spec = load_stack_file(write(tmp_path, WEB)).spec
    assert spec.name == "web-dev"
    assert spec.parameters["VpcId"] == OutputRef(stack="network-dev", output="VpcId")
    assert spec.parameters["MinSize"] == "2"
    assert spec.references() == {"network-dev"}
    assert load_stack_file(write(tmp_path, WEB), {"env": "prod"}).spec.name == "web-prod"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            WEB.replace("recipe: web", "recipe: wbe"),
            "s.yml:2: recipe: no recipe called 'wbe'; did you mean 'web'?",
        ),
        (WEB.replace("region:", "regoin:"), "s.yml:3: regoin: unknown key; did you mean 'region'?"),
        (WEB.replace("vars: {env: dev}\n", ""), "s.yml:1: name: {env} is not set"),
        (
            WEB.replace("output: VpcId", "outptu: VpcId"),
            "s.yml:7: parameters.VpcId.outptu: unknown key; did you mean 'output'?",
        ),
        (
            WEB.replace("channel: stable", "channel: beta"),
            "s.yml:5: image.channel: input should be 'daily' or 'stable'",
        ),
        (
            WEB.replace("recipe: web\n", ""),
            "s.yml:1: a stack needs exactly one of recipe or template",
        ),
        (
            WEB.replace("InstanceType: t3.small", "InstanceType: [a]"),
            "s.yml:8: parameters.InstanceType: a parameter is a value or {stack: NAME",
        ),
        ("", "s.yml:1: the stack file is empty"),
        ("- a\n", "s.yml:1: the top level of a stack file must be a mapping"),
        ("name: [\n", "s.yml:2:1: YAML syntax error"),
    ],
)
def test_mistakes_are_one_sentence_naming_file_line_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(StackFileError) as caught:
        load_stack_file(write(tmp_path, text))
    assert str(caught.value).startswith(f"{tmp_path}/{message}")
    assert caught.value.exit_code == 2


def test_a_folder_names_each_stack_once(tmp_path: Path) -> None:
    write(tmp_path, WEB, "a.yml")
    write(tmp_path, WEB, "b.yaml")
    with pytest.raises(StackFileError, match="also defined in"):
        load_folder(tmp_path)


def test_a_recipe_name_stands_for_its_example(tmp_path: Path) -> None:
    definition = find_stack("network", tmp_path)
    assert definition.path is None and definition.spec.recipe == "network"
    with pytest.raises(StackFileError) as caught:
        find_stack("netwrk", tmp_path)
    assert caught.value.hint == "did you mean 'network'?"


def test_stacks_are_ordered_by_the_outputs_they_read(tmp_path: Path) -> None:
    from shipyard.stacks.plan import deploy_order

    write(
        tmp_path, "name: b\nrecipe: web\nparameters: {VpcId: {stack: a, output: VpcId}}\n", "b.yml"
    )
    write(tmp_path, "name: a\nrecipe: network\n", "a.yml")
    write(tmp_path, "name: c\nrecipe: s3\n", "c.yml")
    assert deploy_order(load_folder(tmp_path)) == ["a", "b", "c"]
    write(
        tmp_path, "name: a\nrecipe: web\nparameters: {VpcId: {stack: b, output: VpcId}}\n", "a.yml"
    )
    with pytest.raises(StackFileError, match="in a cycle: a → b → a"):
        deploy_order(load_folder(tmp_path))


def test_the_examples_validate() -> None:
    from shipyard.manifest.loader import load_manifest

    examples = Path(__file__).parents[2] / "examples"
    stacks = load_folder(examples / "stacks")
    assert sorted(stacks) == ["network-dev", "web-dev"]
    assert load_manifest(examples / "docker-host.yml").manifest.flavour == "docker"
