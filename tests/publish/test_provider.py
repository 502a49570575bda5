"""bootstrap-vz's `provider:` section becomes an ec2 publish target."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from shipyard.manifest.schema import Ec2Target, Manifest
from shipyard.publish.ec2_plan import settings_for

PROVIDER = {
    "name": "ec2",
    "virtualization": "hvm",
    "enhanced_networking": "simple",
    "credentials": {"access-key": "AKIAEXAMPLEKEY", "secret-key": "very-secret"},
}


def test_provider_maps_onto_an_ec2_target_with_its_credentials() -> None:
    manifest = Manifest.model_validate({"provider": PROVIDER})
    (target,) = manifest.publish
    assert isinstance(target, Ec2Target)
    assert target.enhanced_networking is True
    settings = settings_for(target)
    assert (settings.access_key, settings.secret_key) == ("AKIAEXAMPLEKEY", "very-secret")


def test_credentials_never_appear_in_a_dump_or_repr() -> None:
    manifest = Manifest.model_validate({"provider": PROVIDER})
    text = json.dumps(manifest.model_dump(mode="json")) + repr(manifest)
    assert "very-secret" not in text and "AKIAEXAMPLEKEY" not in text


def test_an_explicit_ec2_target_wins_over_the_provider() -> None:
    manifest = Manifest.model_validate(
        {"provider": PROVIDER, "publish": [{"to": "ec2", "region": "eu-west-1"}]}
    )
    assert [t.region for t in manifest.publish if isinstance(t, Ec2Target)] == ["eu-west-1"]


def test_enhanced_networking_none_turns_ena_and_sriov_off() -> None:
    manifest = Manifest.model_validate({"provider": {**PROVIDER, "enhanced_networking": "none"}})
    assert manifest.publish[0].enhanced_networking is False  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("provider", "message"),
    [
        ({**PROVIDER, "virtualization": "pvm"}, "virtualization"),
        ({**PROVIDER, "name": "virtualbox"}, "name"),
        ({**PROVIDER, "credentials": {"access-key": "x"}}, "secret-key"),
    ],
)
def test_unsupported_provider_settings_are_refused(
    provider: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Manifest.model_validate({"provider": provider})


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"share_with": ["alice"]}, "not an AWS account id"),
        ({"region": "Europe"}, "not an AWS region name"),
        ({"copy_to": ["eu-west-1", "mars"]}, "not an AWS region name"),
        ({"public": True, "share_with": ["111122223333"]}, "exclude each other"),
    ],
)
def test_ec2_target_validation(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Ec2Target.model_validate({"to": "ec2", **fields})
