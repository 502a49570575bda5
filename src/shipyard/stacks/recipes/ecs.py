"""`ecs`: an ECS cluster whose container instances come from an auto-scaling group (1 to 2)
of a Shipyard image carrying Docker and the ECS agent, a load balancer mapping the
container port to port 80, a task definition and a service. The container image is
built on each instance at first boot from a zip in S3 (as `docker-app` does) or pulled
from a registry (`ContainerImage`). `LaunchType: FARGATE` runs the task on Fargate."""

from __future__ import annotations

from troposphere import Equals, GetAtt, If, NoValue, Ref, Sub, Template, ec2, ecs, iam

from shipyard.stacks.recipes import Recipe
from shipyard.stacks.recipes.common import (
    from_anywhere,
    image_param,
    instance_profile,
    instance_type_param,
    launch_template,
    load_balanced_group,
    new_template,
    output,
    param,
    read_object_policy,
    security_group,
    subnets_param,
    trust,
    vpc_param,
)
from shipyard.stacks.recipes.docker_app import docker_parameters

JOIN_CLUSTER = """#!/bin/sh
set -eu
mkdir -p /etc/ecs
echo "ECS_CLUSTER=${Cluster}" >> /etc/ecs/ecs.config
if [ -n "${DockerZip}" ]; then
  work=$(mktemp -d)
  aws s3 cp "s3://${ArtifactBucket}/${DockerZip}" "$work/app.zip"
  cd "$work" && unzip -q app.zip && docker build -t ${ContainerImage} .
fi
"""


def build() -> Template:
    t = new_template("Shipyard ECS: a cluster of Shipyard instances running one service")
    vpc_param(t)
    subnets_param(t, "PublicSubnetIds", "subnets of the load balancer (two AZs)")
    subnets_param(t, "PrivateSubnetIds", "subnets of the container instances (two AZs)")
    image_param(t)
    instance_type_param(t)
    docker_parameters(t)
    param(
        t,
        "ContainerImage",
        "String",
        "image the task runs: built at boot under this name, or pulled from a registry",
        Default="shipyard-app:latest",
    )
    param(
        t,
        "LaunchType",
        "String",
        "EC2 (Shipyard instances) or FARGATE",
        Default="EC2",
        AllowedValues=["EC2", "FARGATE"],
    )
    t.add_condition("OnFargate", Equals(Ref("LaunchType"), "FARGATE"))
    cluster = t.add_resource(ecs.Cluster("Cluster"))
    lb_group = security_group(
        t, "LoadBalancerGroup", "load balancer: HTTP from anywhere", [from_anywhere(80)]
    )
    instance_group = security_group(t, "InstanceGroup", "container instances and tasks", [])
    t.add_resource(
        ec2.SecurityGroupIngress(
            "InstanceFromLoadBalancer",
            GroupId=GetAtt(instance_group, "GroupId"),
            IpProtocol="tcp",
            FromPort=Ref("ContainerPort"),
            ToPort=Ref("ContainerPort"),
            SourceSecurityGroupId=GetAtt(lb_group, "GroupId"),
        )
    )
    profile = instance_profile(
        t,
        policies=[read_object_policy(Ref("ArtifactBucket"), Ref("DockerZip"))],
        managed=[
            Sub(
                "arn:${AWS::Partition}:iam::aws:policy/service-role/"
                "AmazonEC2ContainerServiceforEC2Role"
            )
        ],
    )
    lt = launch_template(t, profile, [Ref(instance_group)], user_data=JOIN_CLUSTER)
    target = load_balanced_group(
        t, lt, port=Ref("ContainerPort"), health_path="/", lb_group=lb_group
    )
    target.TargetType = If("OnFargate", "ip", "instance")
    execution = t.add_resource(
        iam.Role(
            "TaskExecutionRole",
            AssumeRolePolicyDocument=trust("ecs-tasks.amazonaws.com"),
            ManagedPolicyArns=[
                Sub(
                    "arn:${AWS::Partition}:iam::aws:policy/service-role/"
                    "AmazonECSTaskExecutionRolePolicy"
                )
            ],
        )
    )
    task = t.add_resource(
        ecs.TaskDefinition(
            "Task",
            Family=Ref("AWS::StackName"),
            RequiresCompatibilities=[Ref("LaunchType")],
            NetworkMode=If("OnFargate", "awsvpc", "bridge"),
            Cpu="256",
            Memory="512",
            ExecutionRoleArn=GetAtt(execution, "Arn"),
            ContainerDefinitions=[
                ecs.ContainerDefinition(
                    Name="app",
                    Image=Ref("ContainerImage"),
                    Essential=True,
                    PortMappings=[
                        ecs.PortMapping(
                            ContainerPort=Ref("ContainerPort"),
                            HostPort=If("OnFargate", Ref("ContainerPort"), 0),
                        )
                    ],
                )
            ],
        )
    )
    t.add_resource(
        ecs.Service(
            "Service",
            DependsOn=["HttpListener", "AutoScalingGroup"],
            Cluster=Ref(cluster),
            LaunchType=Ref("LaunchType"),
            DesiredCount=1,
            TaskDefinition=Ref(task),
            LoadBalancers=[
                ecs.LoadBalancer(
                    ContainerName="app",
                    ContainerPort=Ref("ContainerPort"),
                    TargetGroupArn=Ref(target),
                )
            ],
            NetworkConfiguration=If(
                "OnFargate",
                ecs.NetworkConfiguration(
                    AwsvpcConfiguration=ecs.AwsvpcConfiguration(
                        Subnets=Ref("PrivateSubnetIds"), SecurityGroups=[Ref(instance_group)]
                    )
                ),
                NoValue,
            ),
        )
    )
    output(t, "ClusterName", Ref(cluster), "the ECS cluster")
    output(t, "TaskDefinitionArn", Ref(task), "the task definition")
    return t


RECIPE = Recipe(
    name="ecs",
    summary="ECS cluster on Shipyard instances (ASG 1-2) behind a load balancer; Fargate optional",
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
