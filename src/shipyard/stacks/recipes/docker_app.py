"""`docker-app`: instances that fetch a zip from S3 at first boot, build the Docker image
in it and run it, behind a load balancer; the instance role may read exactly that object."""

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
    param,
    read_object_policy,
    security_group,
    subnets_param,
    vpc_param,
)

# Runs as user data under the agent: fetch, build, run with a restart policy, so the
# container comes back after a reboot without any further first-boot work.
BUILD_AND_RUN = """#!/bin/sh
set -eu
work=$(mktemp -d)
aws s3 cp "s3://${ArtifactBucket}/${DockerZip}" "$work/app.zip"
cd "$work" && unzip -q app.zip
docker build -t shipyard-app:latest .
docker run -d --restart=always -p ${Port}:${ContainerPort} shipyard-app:latest
"""


def docker_parameters(t: Template) -> None:
    param(t, "ArtifactBucket", "String", "bucket holding the zip (e.g. the s3 stack's BucketName)")
    param(t, "DockerZip", "String", "object key of the zip with a Dockerfile at its top")
    param(t, "ContainerPort", "Number", "port the container listens on", Default="8080")


def build() -> Template:
    t = new_template("Shipyard docker-app: a Docker image built at first boot from a zip in S3")
    vpc_param(t)
    subnets_param(t, "PublicSubnetIds", "subnets of the load balancer (two AZs)")
    subnets_param(t, "PrivateSubnetIds", "subnets of the instances (two AZs)")
    image_param(t)
    instance_type_param(t)
    docker_parameters(t)
    param(t, "Port", "Number", "host port the container is published on", Default="80")
    lb_group = security_group(
        t, "LoadBalancerGroup", "load balancer: HTTP from anywhere", [from_anywhere(80)]
    )
    instance_group = security_group(
        t,
        "InstanceGroup",
        "instances: the app port from the load balancer",
        [from_group(80, Ref(lb_group))],
    )
    profile = instance_profile(
        t, policies=[read_object_policy(Ref("ArtifactBucket"), Ref("DockerZip"))]
    )
    lt = launch_template(t, profile, [Ref(instance_group)], user_data=BUILD_AND_RUN)
    load_balanced_group(t, lt, port=80, health_path="/", lb_group=lb_group)
    return t


RECIPE = Recipe(
    name="docker-app",
    summary="instances that build and run a Docker image from a zip in S3 at first boot",
    build=build,
    example={
        "VpcId": "vpc-0123456789abcdef0",
        "PublicSubnetIds": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
        "PrivateSubnetIds": "subnet-0123456789abcdef2,subnet-0123456789abcdef3",
        "ImageId": "ami-0123456789abcdef0",
        "ArtifactBucket": "example-artifacts",
        "DockerZip": "artifacts/DockerZip/0123abcd.zip",
    },
)
