"""The metadata emulator answers as EC2's IMDSv2 does, over real HTTP on loopback."""

from __future__ import annotations

import json
import os
import socket
import statistics
import time

import httpx
import pytest
from slowclients import dribbled_head, open_stalled, oversized_head, status_of, still_open_after

from shipyard.vm.identity import Signer, load_signer, verify
from shipyard.vm.imds import ImdsBehaviour, ImdsServer, serve
from shipyard.vm.metadata import Instance


def token(server: ImdsServer, ttl: str = "60") -> str:
    r = httpx.put(
        f"{server.url}/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": ttl}
    )
    assert r.status_code == 200
    assert r.headers["X-aws-ec2-metadata-token-ttl-seconds"] == ttl
    return r.text


def get(server: ImdsServer, path: str, tok: str | None) -> httpx.Response:
    headers = {"X-aws-ec2-metadata-token": tok} if tok is not None else {}
    return httpx.get(f"{server.url}{path}", headers=headers)


@pytest.mark.parametrize("ttl", ["0", "21601", "-5", "abc", ""])
def test_a_bad_ttl_is_refused_with_400(imds: ImdsServer, ttl: str) -> None:
    headers = {"X-aws-ec2-metadata-token-ttl-seconds": ttl} if ttl else {}
    r = httpx.put(f"{imds.url}/latest/api/token", headers=headers)
    assert r.status_code == 400


@pytest.mark.parametrize("ttl", ["1", "21600"])
def test_the_ttl_limits_are_accepted(imds: ImdsServer, ttl: str) -> None:
    assert token(imds, ttl)


def test_a_missing_or_wrong_token_gets_401(imds: ImdsServer) -> None:
    assert get(imds, "/latest/meta-data/instance-id", None).status_code == 401
    assert get(imds, "/latest/meta-data/instance-id", "forged").status_code == 401


def test_an_expired_token_gets_401_and_a_new_one_works(imds: ImdsServer) -> None:
    old = token(imds)
    imds.expire_tokens()
    assert get(imds, "/latest/meta-data/instance-id", old).status_code == 401
    fresh = token(imds)
    r = get(imds, "/latest/meta-data/instance-id", fresh)
    assert r.status_code == 200
    assert r.text == imds.instance.instance_id


def test_v1_requests_work_only_when_allowed(instance: Instance, signer: Signer) -> None:
    with serve(instance, signer, settings=ImdsBehaviour(require_token=False)) as server:
        assert get(server, "/latest/meta-data/instance-id", None).status_code == 200
        assert get(server, "/latest/meta-data/instance-id", "forged").status_code == 401


def test_a_disabled_endpoint_answers_403(instance: Instance, signer: Signer) -> None:
    with serve(instance, signer, settings=ImdsBehaviour(enabled=False)) as server:
        r = httpx.put(
            f"{server.url}/latest/api/token",
            headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"},
        )
        assert r.status_code == 403


def test_a_proxied_token_request_is_refused(imds: ImdsServer) -> None:
    r = httpx.put(
        f"{imds.url}/latest/api/token",
        headers={"X-aws-ec2-metadata-token-ttl-seconds": "60", "X-Forwarded-For": "10.0.0.1"},
    )
    assert r.status_code == 403


def test_metadata_tree(imds: ImdsServer, public_key: str) -> None:
    tok = token(imds)
    listing = get(imds, "/latest/meta-data/", tok).text.splitlines()
    for name in ("ami-id", "instance-id", "instance-type", "local-hostname", "local-ipv4", "mac"):
        assert name in listing
    assert "placement/" in listing and "public-keys/" in listing
    assert get(imds, "/latest/meta-data/placement/region", tok).text == "us-east-1"
    assert get(imds, "/latest/meta-data/placement/availability-zone", tok).text == "us-east-1a"
    assert get(imds, "/latest/meta-data/public-keys/", tok).text == "0=shipyard"
    assert get(imds, "/latest/meta-data/public-keys/0/", tok).text == "openssh-key"
    assert get(imds, "/latest/meta-data/public-keys/0/openssh-key", tok).text == public_key
    assert get(imds, "/latest/meta-data/nothing-here", tok).status_code == 404
    assert get(imds, "/2009-04-04/meta-data/instance-id", tok).status_code == 200


def test_user_data_is_served_and_404_when_there_is_none(imds: ImdsServer, signer: Signer) -> None:
    tok = token(imds)
    assert get(imds, "/latest/user-data", tok).content == b"#!/bin/sh\necho hi\n"
    with serve(Instance(), signer) as bare:
        assert get(bare, "/latest/user-data", token(bare)).status_code == 404
        assert "user-data" not in get(bare, "/latest/", token(bare)).text


def test_instance_tags_are_served_only_when_the_instance_has_some(signer: Signer) -> None:
    tags = (("shipyard:database-secret", "frontend/db"), ("Name", "frontend 1"), ("a=b", "c"))
    with serve(Instance(tags=tags), signer) as tagged:
        tok = token(tagged)
        assert "tags/" in get(tagged, "/latest/meta-data/", tok).text.splitlines()
        listing = get(tagged, "/latest/meta-data/tags/instance/", tok).text.splitlines()
        assert listing == ["shipyard:database-secret", "Name", "a=b"]
        assert get(tagged, "/latest/meta-data/tags/instance/a=b", tok).text == "c"
        got = get(tagged, "/latest/meta-data/tags/instance/shipyard:database-secret", tok)
        assert got.text == "frontend/db"
    with serve(Instance(), signer) as bare:
        assert get(bare, "/latest/meta-data/tags/instance/", token(bare)).status_code == 404


def test_a_role_s_credentials_are_found_by_the_sdk_s_default_chain(
    signer: Signer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    with serve(Instance(iam_role="frontend"), signer) as imds:
        monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url)
        credentials = boto3.Session().get_credentials()
        assert credentials is not None and credentials.method == "iam-role"
        first = credentials.get_frozen_credentials()
        assert first.access_key.startswith("ASIA") and first.token
        info = json.loads(get(imds, "/latest/meta-data/iam/info", token(imds)).text)
        assert info["InstanceProfileArn"].endswith(":instance-profile/frontend")
        again = boto3.Session().get_credentials()
        assert again is not None and again.get_frozen_credentials() == first


def test_identity_document_is_signed_by_the_saved_certificate(
    imds: ImdsServer, signer: Signer
) -> None:
    tok = token(imds)
    document = get(imds, "/latest/dynamic/instance-identity/document", tok).content
    signature = get(imds, "/latest/dynamic/instance-identity/signature", tok).text
    fields = json.loads(document)
    assert fields["instanceId"] == imds.instance.instance_id
    assert fields["region"] == "us-east-1"
    certificate = signer.certificate_path.read_bytes()
    assert verify(document, signature, certificate)
    assert not verify(document.replace(b"us-east-1", b"eu-west-1"), signature, certificate)


def test_the_signing_key_is_kept_across_uses(signer: Signer) -> None:
    again = load_signer(signer.certificate_path.parent)
    assert again.certificate == signer.certificate


def test_each_instance_gets_a_fresh_id() -> None:
    ids = {Instance().instance_id for _ in range(20)}
    assert len(ids) == 20
    assert all(i.startswith("i-") and len(i) == 19 for i in ids)


def test_keep_alive_serves_many_requests_on_one_connection(imds: ImdsServer) -> None:
    with httpx.Client() as client:
        tok = client.put(
            f"{imds.url}/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "5"}
        ).text
        for _ in range(5):
            r = client.get(
                f"{imds.url}/latest/meta-data/mac", headers={"X-aws-ec2-metadata-token": tok}
            )
            assert r.text == imds.instance.mac


def test_answers_on_a_kept_connection_leave_at_once(imds: ImdsServer) -> None:
    """With Nagle's algorithm on, each answer's body waited for the client's delayed ACK
    of its head: 40 ms a request on a kept connection, where EC2 answers in well under a
    millisecond and an agent's boot makes a dozen. Now a request takes about one."""
    tok = token(imds)
    request = (
        "GET /latest/meta-data/mac HTTP/1.1\r\nHost: 169.254.169.254\r\n"
        f"X-aws-ec2-metadata-token: {tok}\r\n\r\n"
    ).encode()
    took: list[float] = []
    with socket.create_connection(("127.0.0.1", imds.port), timeout=20) as conn:
        for _ in range(21):
            started = time.monotonic()
            conn.sendall(request)
            answer = b""
            while not answer.endswith(imds.instance.mac.encode()):
                chunk = conn.recv(65536)
                assert chunk, f"the service closed the connection after {answer!r}"
                answer += chunk
            took.append(time.monotonic() - started)
    assert statistics.median(took[1:]) < 0.02  # the first may still be in quick-ACK mode


def exchange(server: ImdsServer, request: bytes) -> bytes:
    """Everything the server sends back until it closes (a timeout fails the test)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize(
    ("length", "status", "says"),
    [
        ("abc", 400, "is not one byte count"),
        ("-5", 400, "is not one byte count"),
        ("5, 6", 400, "is not one byte count"),
        ("\u0663", 400, "is not one byte count"),
        ("9" * 5000, 413, "is more than the 4096 accepted"),
    ],
    ids=["letters", "negative", "two", "non-ascii-digit", "huge"],
)
def test_a_bad_content_length_gets_one_sentence_and_the_connection_closed(
    imds: ImdsServer, length: str, status: int, says: str
) -> None:
    # No Connection: close: the server must close by itself, or recv waits for ever.
    request = (
        f"PUT /latest/api/token HTTP/1.1\r\nHost: imds\r\n"
        f"X-aws-ec2-metadata-token-ttl-seconds: 60\r\nContent-Length: {length}\r\n\r\n"
    )
    answer = exchange(imds, request.encode())
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode())
    assert says in body.decode() and body.count(b"\n") == 1
    assert token(imds)  # the server still answers others


def test_a_small_body_is_read_and_the_connection_kept(imds: ImdsServer) -> None:
    request = (
        b"PUT /latest/api/token HTTP/1.1\r\nHost: imds\r\n"
        b"X-aws-ec2-metadata-token-ttl-seconds: 60\r\nContent-Length: 3\r\n\r\nabc"
        b"GET /latest/meta-data/ HTTP/1.1\r\nHost: imds\r\nConnection: close\r\n\r\n"
    )
    answer = exchange(imds, request)
    assert answer.count(b"HTTP/1.1 ") == 2 and b"HTTP/1.1 200 " in answer


def test_an_8_mb_header_is_refused_with_431(imds: ImdsServer) -> None:
    answer = oversized_head(imds.port)
    assert status_of(answer) == 431
    assert answer.endswith(b"are larger than 65536 bytes\n")
    assert token(imds)


def test_half_heads_and_silent_connections_are_closed(imds: ImdsServer) -> None:
    stalled = open_stalled(imds.port, half=50, silent=1)
    assert still_open_after(stalled) == 0
    assert token(imds)


def test_a_head_sent_a_byte_at_a_time_gets_408(imds: ImdsServer) -> None:
    answer = dribbled_head(imds.port)
    assert status_of(answer) == 408 and b"did not arrive within" in answer
