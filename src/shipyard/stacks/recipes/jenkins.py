"""`jenkins`: one Jenkins instance in an auto-scaling group of one (replaced when it dies)
behind the load balancer; Jenkins itself is installed at first boot by the image's
bootstrap steps (see examples/), so the template only places and exposes it."""

from __future__ import annotations

from troposphere import Ref, Template

from shipyard.stacks.recipes import Recipe
from shipyard.stacks.recipes.common import (
    from_anywhere,
    from_group,
    image_param,
    instance_profile,
    instance_type_param,
    launch_template,
    load_balanced_group,
    new_template,
    security_group,
    subnets_param,
    vpc_param,
)

JENKINS_PORT = 8080


def build() -> Template:
    t = new_template("Shipyard Jenkins: one instance, replaced if it fails, behind a load balancer")
    vpc_param(t)
    subnets_param(t, "PublicSubnetIds", "subnets of the load balancer (two AZs)")
    subnets_param(t, "PrivateSubnetIds", "subnets of the instance (two AZs)")
    image_param(t)
    instance_type_param(t, default="t3.medium")
    lb_group = security_group(
        t, "LoadBalancerGroup", "load balancer: HTTP from anywhere", [from_anywhere(80)]
    )
    instance_group = security_group(
        t,
        "InstanceGroup",
        "Jenkins: its port from the load balancer",
        [from_group(JENKINS_PORT, Ref(lb_group))],
    )
    profile = instance_profile(t)
    lt = launch_template(t, profile, [Ref(instance_group)], volume_size=30)
    load_balanced_group(
        t,
        lt,
        port=JENKINS_PORT,
        health_path="/login",
        lb_group=lb_group,
        minimum="1",
        maximum="1",
    )
    return t


RECIPE = Recipe(
    name="jenkins",
    summary="one Jenkins instance (auto-scaling group of one) behind a load balancer",
    build=build,
    example={
        "VpcId": "vpc-0123456789abcdef0",
        "PublicSubnetIds": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
        "PrivateSubnetIds": "subnet-0123456789abcdef2,subnet-0123456789abcdef3",
        "ImageId": "ami-0123456789abcdef0",
    },
)
