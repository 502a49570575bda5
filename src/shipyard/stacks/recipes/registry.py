"""`registry`: a Docker registry (distribution) on an instance of a Shipyard image, its
storage an S3 bucket of its own that only the registry's role may use."""

from __future__ import annotations

from awacs import s3 as s3_actions
from awacs.aws import Allow, PolicyDocument, Statement
from troposphere import GetAtt, Join, Ref, Template, iam, s3

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
    security_group,
    subnets_param,
    vpc_param,
)

REGISTRY_PORT = 5000
RUN_REGISTRY = """#!/bin/sh
set -eu
docker run -d --restart=always -p 5000:5000 \\
  -e REGISTRY_STORAGE=s3 -e REGISTRY_STORAGE_S3_REGION=${AWS::Region} \\
  -e REGISTRY_STORAGE_S3_BUCKET=${Storage} registry:2
"""


def storage_policy() -> iam.Policy:
    bucket_arn = GetAtt("Storage", "Arn")
    return iam.Policy(
        PolicyName="registry-storage",
        PolicyDocument=PolicyDocument(
            Version="2012-10-17",
            Statement=[
                Statement(
                    Effect=Allow,
                    Action=[
                        s3_actions.ListBucket,
                        s3_actions.GetBucketLocation,
                        s3_actions.ListBucketMultipartUploads,
                    ],
                    Resource=[bucket_arn],
                ),
                Statement(
                    Effect=Allow,
                    Action=[
                        s3_actions.GetObject,
                        s3_actions.PutObject,
                        s3_actions.DeleteObject,
                        s3_actions.ListMultipartUploadParts,
                        s3_actions.AbortMultipartUpload,
                    ],
                    Resource=[Join("", [bucket_arn, "/*"])],
                ),
            ],
        ),
    )


def build() -> Template:
    t = new_template("Shipyard registry: a Docker registry whose storage is an S3 bucket")
    vpc_param(t)
    subnets_param(t, "PublicSubnetIds", "subnets of the load balancer (two AZs)")
    subnets_param(t, "PrivateSubnetIds", "subnets of the registry instance (two AZs)")
    image_param(t)
    instance_type_param(t)
    storage = t.add_resource(
        s3.Bucket(
            "Storage",
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
            PublicAccessBlockConfiguration=s3.PublicAccessBlockConfiguration(
                BlockPublicAcls=True,
                BlockPublicPolicy=True,
                IgnorePublicAcls=True,
                RestrictPublicBuckets=True,
            ),
        )
    )
    lb_group = security_group(
        t, "LoadBalancerGroup", "load balancer: HTTP from anywhere", [from_anywhere(80)]
    )
    instance_group = security_group(
        t,
        "InstanceGroup",
        "registry: its port from the load balancer",
        [from_group(REGISTRY_PORT, Ref(lb_group))],
    )
    profile = instance_profile(t, policies=[storage_policy()])
    lt = launch_template(t, profile, [Ref(instance_group)], user_data=RUN_REGISTRY)
    load_balanced_group(
        t, lt, port=REGISTRY_PORT, health_path="/v2/", lb_group=lb_group, minimum="1", maximum="1"
    )
    output(t, "StorageBucket", Ref(storage), "the bucket holding the registry's layers")
    return t


RECIPE = Recipe(
    name="registry",
    summary="a Docker registry on a Shipyard image, stored in S3",
    build=build,
    example={
        "VpcId": "vpc-0123456789abcdef0",
        "PublicSubnetIds": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
        "PrivateSubnetIds": "subnet-0123456789abcdef2,subnet-0123456789abcdef3",
        "ImageId": "ami-0123456789abcdef0",
    },
)
