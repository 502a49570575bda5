"""Outputs computed from a stack's resources: only what they determine, never a guess."""

from __future__ import annotations

from shipyard.stacks.outputs import compute_outputs

TEMPLATE = {
    "Parameters": {"Nat": {"Type": "String", "Default": "false"}},
    "Conditions": {"WantNat": {"Fn::Equals": [{"Ref": "Nat"}, "true"]}},
    "Outputs": {
        "VpcId": {"Value": {"Ref": "Vpc"}},
        "Subnets": {"Value": {"Fn::Join": [",", [{"Ref": "A"}, {"Ref": "B"}]]}},
        "Nat": {"Value": {"Fn::If": ["WantNat", {"Ref": "Gw"}, "none"]}},
        "Name": {"Value": {"Fn::Sub": "${AWS::StackName}-web"}},
        "Dns": {"Value": {"Fn::GetAtt": ["Lb", "DNSName"]}},
        "OnlyWithNat": {"Condition": "WantNat", "Value": {"Ref": "Gw"}},
    },
}


def test_refs_joins_conditions_and_subs_are_computed_attributes_are_not() -> None:
    computed, missing = compute_outputs(
        TEMPLATE,
        {"Vpc": "vpc-1", "A": "subnet-a", "B": "subnet-b", "Lb": "arn:lb"},
        {},
        {"AWS::StackName": "web-dev"},
    )
    assert computed == {
        "VpcId": "vpc-1",
        "Subnets": "subnet-a,subnet-b",
        "Nat": "none",
        "Name": "web-dev-web",
    }
    assert missing == ["Dns"]


def test_parameters_given_win_over_defaults() -> None:
    computed, _ = compute_outputs(TEMPLATE, {"Vpc": "v", "Gw": "nat-1"}, {"Nat": "true"}, {})
    assert computed["Nat"] == "nat-1" and computed["OnlyWithNat"] == "nat-1"
