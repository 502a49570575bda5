"""Every built-in recipe renders, documents itself and lints clean."""

from __future__ import annotations

import json

import pytest
import yaml

from shipyard.errors import StackError
from shipyard.stacks import recipes
from shipyard.stacks.lint import lint
from shipyard.stacks.model import StackDefinition, StackFile
from shipyard.stacks.render import render


def example(name: str) -> StackDefinition:
    recipe = recipes.get(name)
    return StackDefinition(spec=StackFile(name=name, recipe=name, parameters=dict(recipe.example)))


@pytest.mark.parametrize("name", recipes.names())
def test_recipe_renders_and_lints_clean(name: str) -> None:
    rendered = render(example(name))
    assert lint(rendered) == []
    template = json.loads(render(example(name), "json").body)
    assert template["Resources"]
    # Documented: every parameter and output says what it is.
    for section in ("Parameters", "Outputs"):
        for key, item in template.get(section, {}).items():
            assert item.get("Description"), f"{name}: {section}.{key} has no description"
    # The example parameters are the template's own, and fill every one without a default.
    params = template.get("Parameters", {})
    given = recipes.get(name).example
    assert set(given) <= set(params)
    assert {k for k, p in params.items() if "Default" not in p} <= set(given)


@pytest.mark.parametrize("name", ["web", "docker-app", "jenkins", "registry", "ecs"])
def test_instances_require_imdsv2_and_encrypted_gp3_and_take_the_image(name: str) -> None:
    template = yaml.safe_load(render(example(name), "json").body)
    data = template["Resources"]["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
    assert data["ImageId"] == {"Ref": "ImageId"}
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    ebs = data["BlockDeviceMappings"][0]["Ebs"]
    assert ebs["VolumeType"] == "gp3" and ebs["Encrypted"] is True
    assert "IamInstanceProfile" in data


def test_docker_app_role_reads_exactly_its_zip() -> None:
    template = json.loads(render(example("docker-app"), "json").body)
    policies = template["Resources"]["InstanceRole"]["Properties"]["Policies"]
    statements = [s for p in policies for s in p["PolicyDocument"]["Statement"]]
    assert [s["Action"] for s in statements] == [["s3:GetObject"]]
    resource = json.dumps(statements[0]["Resource"])
    assert "ArtifactBucket" in resource and "DockerZip" in resource and "*" not in resource


def test_web_has_an_https_listener_only_with_a_certificate() -> None:
    template = json.loads(render(example("web"), "json").body)
    assert template["Resources"]["HttpsListener"]["Condition"] == "WantHttps"
    assert template["Parameters"]["CertificateArn"]["Default"] == ""


def test_an_unknown_recipe_suggests_the_close_one() -> None:
    with pytest.raises(StackError) as caught:
        recipes.get("netwrok")
    assert caught.value.hint == "did you mean 'network'?"


def test_yaml_reads_back_as_the_template_and_tags_no_mapping() -> None:
    from cfnlint.decode import cfn_yaml

    for name in recipes.names():
        body = render(example(name)).body
        # `!Base64 {Fn::Sub: ...}` is valid CloudFormation but some readers cannot take a tag
        # on a mapping; the outer function is written long: `Fn::Base64: !Sub ...`.
        assert not _tagged_mappings(yaml.compose(body, Loader=_AnyTag)), name
        assert json.loads(json.dumps(cfn_yaml.loads(body))) == json.loads(
            render(example(name), "json").body
        )
    body = render(example("docker-app")).body
    assert "Fn::Base64: !Sub" in body


class _AnyTag(yaml.SafeLoader):
    pass


def _tagged_mappings(node: yaml.Node) -> list[str]:
    found = [node.tag] if isinstance(node, yaml.MappingNode) and node.tag.startswith("!") else []
    children = node.value if isinstance(node.value, list) else []
    for child in children:
        for part in child if isinstance(child, tuple) else (child,):
            found += _tagged_mappings(part)
    return found
