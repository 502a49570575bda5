"""Sessions, credentials and error translation, against a real moto server."""

from __future__ import annotations

import socket

import pytest

from shipyard.aws.session import AwsSettings, call, client, make_session
from shipyard.errors import AWSError


def identity_key(settings: AwsSettings) -> str:
    credentials = make_session(settings).get_credentials()
    assert credentials is not None
    return str(credentials.access_key)


def test_standard_chain_is_used_by_default(aws: str) -> None:
    assert identity_key(AwsSettings(endpoint_url=aws)) == "testing"


def test_bootstrap_vz_variables_are_used_when_the_standard_ones_are_absent(
    aws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_ACCESS_KEY", "AKIALEGACY")
    monkeypatch.setenv("AWS_SECRET_KEY", "legacy-secret")
    assert identity_key(AwsSettings(endpoint_url=aws)) == "AKIALEGACY"


def test_explicit_keys_win_and_are_never_shown(aws: str) -> None:
    settings = AwsSettings(endpoint_url=aws, access_key="AKIAMANIFEST", secret_key="hush")
    assert identity_key(settings) == "AKIAMANIFEST"
    assert "hush" not in repr(settings) and "AKIAMANIFEST" not in repr(settings)


def test_a_missing_region_is_one_clear_error(aws: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(AWSError, match="no AWS region given") as caught:
        make_session(AwsSettings(endpoint_url=aws))
    # The CLI shows the setting as its --region flag.
    assert caught.value.setting == "region"
    assert caught.value.hint and "AWS_REGION" in caught.value.hint


def test_a_missing_profile_is_one_clear_error(aws: str) -> None:
    with pytest.raises(AWSError, match="AWS profile 'nope' is not configured"):
        make_session(AwsSettings(profile="nope"))


def test_aws_errors_name_the_operation_and_the_code(aws: str) -> None:
    settings = AwsSettings(endpoint_url=aws)
    ec2 = client(make_session(settings), "ec2", settings)
    with pytest.raises(AWSError) as caught:
        call(ec2, "deregister_image", ImageId="ami-0123456789abcdef0")
    assert str(caught.value).startswith("DeregisterImage failed: InvalidAMIID.NotFound")


def test_missing_credentials_are_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # An endpoint that answers (client() refuses one that does not): the credentials
    # are looked for before any request is sent, so nothing needs to be served.
    with socket.create_server(("127.0.0.1", 0)) as listener:
        endpoint = f"http://127.0.0.1:{listener.getsockname()[1]}"
        settings = AwsSettings(region="us-east-1", endpoint_url=endpoint)
        ec2 = client(make_session(settings), "ec2", settings)
        with pytest.raises(AWSError, match="DescribeImages: no AWS credentials found"):
            call(ec2, "describe_images", Owners=["self"])


def test_an_unreachable_endpoint_is_an_aws_error() -> None:
    settings = AwsSettings(
        region="us-east-1", endpoint_url="http://127.0.0.1:9", access_key="a", secret_key="b"
    )
    ec2 = make_session(settings).client(
        "ec2", endpoint_url=settings.endpoint_url, config=_no_retries()
    )
    with pytest.raises(AWSError, match="DescribeImages failed: Could not connect"):
        call(ec2, "describe_images", Owners=["self"])


def _no_retries() -> object:
    from shipyard.aws.session import client_config

    return client_config(max_attempts=1)
