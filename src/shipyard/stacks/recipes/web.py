"""`web`: a launch template of a Shipyard image, an auto-scaling group across the private
subnets, an application load balancer in the public ones, a target group with a health
check, and an HTTPS listener when a certificate ARN is given."""

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
    output,
    param,
    security_group,
    subnets_param,
    vpc_param,
)


def build() -> Template:
    t = new_template("Shipyard web: auto-scaling instances of an image behind a load balancer")
    vpc_param(t)
    subnets_param(t, "PublicSubnetIds", "subnets of the load balancer (two AZs)")
    subnets_param(t, "PrivateSubnetIds", "subnets of the instances (two AZs)")
    image_param(t)
    instance_type_param(t)
    param(t, "Port", "Number", "port the instances serve HTTP on", Default="80")
    param(t, "HealthCheckPath", "String", "path the load balancer checks", Default="/")
    param(t, "MinSize", "Number", "fewest instances", Default="1")
    param(t, "MaxSize", "Number", "most instances", Default="2")
    param(
        t,
        "CertificateArn",
        "String",
        "ACM certificate for an HTTPS listener; empty for none",
        Default="",
    )
    lb_group = security_group(
        t,
        "LoadBalancerGroup",
        "load balancer: HTTP and HTTPS from anywhere",
        [from_anywhere(80), from_anywhere(443)],
    )
    instance_group = security_group(
        t,
        "InstanceGroup",
        "instances: the service port from the load balancer",
        [from_group(80, Ref(lb_group))],
    )
    instance_group.SecurityGroupIngress[0].FromPort = Ref("Port")
    instance_group.SecurityGroupIngress[0].ToPort = Ref("Port")
    profile = instance_profile(t)
    lt = launch_template(t, profile, [Ref(instance_group)])
    load_balanced_group(
        t,
        lt,
        port=Ref("Port"),
        health_path=Ref("HealthCheckPath"),
        lb_group=lb_group,
        minimum=Ref("MinSize"),
        maximum=Ref("MaxSize"),
        https=True,
    )
    output(t, "LaunchTemplateId", Ref(lt), "the launch template (its ImageId is the image)")
    output(t, "InstanceGroupId", Ref(instance_group), "security group of the instances")
    return t


RECIPE = Recipe(
    name="web",
    summary="launch template, auto-scaling group, application load balancer, optional HTTPS",
    build=build,
    example={
        "VpcId": "vpc-0123456789abcdef0",
        "PublicSubnetIds": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
        "PrivateSubnetIds": "subnet-0123456789abcdef2,subnet-0123456789abcdef3",
        "ImageId": "ami-0123456789abcdef0",
        "InstanceType": "t3.small",
    },
)
