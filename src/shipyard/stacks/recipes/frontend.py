"""`frontend`: the fleet service on AWS. Two frontend instances behind an internal load
balancer on port 8470, sharing PostgreSQL on RDS; one auto-scaling group per appliance
whose instances join through that load balancer with the join token kept in SSM.

The frontend's first boot reads its database from the generated secret and adopts the
tokens from SSM parameters, all named in its user data; the appliances' user data holds
the join token itself (CloudFormation reads it from SSM at deploy time), so their image
needs no AWS access to join.
"""

from __future__ import annotations

import json
from typing import Any

from awacs import iam as iam_actions
from awacs import s3 as s3_actions
from awacs import secretsmanager as secret_actions
from awacs import ssm as ssm_actions
from awacs.aws import Action, Allow, PolicyDocument, Statement
from troposphere import (
    Base64,
    Equals,
    GetAtt,
    Join,
    Not,
    Output,
    Ref,
    Sub,
    Template,
    ec2,
    iam,
    route53,
    secretsmanager,
)
from troposphere import autoscaling as asg
from troposphere import elasticloadbalancingv2 as elb

from shipyard.aws.iam import LAUNCH_ACTIONS
from shipyard.stacks.recipes import Recipe
from shipyard.stacks.recipes.common import (
    image_param,
    instance_type_param,
    new_template,
    output,
    param,
    security_group,
    subnets_param,
    trust,
    vpc_param,
)
from shipyard.stacks.recipes.rds import generated_secret, postgres, resolve_password

PORT = 8470
APPLIANCE_SLOTS = 3


def build() -> Template:
    t = new_template("Shipyard frontend: replicas behind an internal load balancer, on RDS")
    vpc_param(t)
    subnets_param(t, "PrivateSubnetIds", "subnets of everything here (two AZs)")
    image_param(t)
    instance_type_param(t)
    param(t, "BackendImageId", "AWS::EC2::Image::Id", "AMI the appliances' instances boot")
    param(t, "CertificateArn", "String", "ACM certificate of the load balancer's HTTPS listener")
    # Hosts check the certificate's name, so they need that name, not the balancer's own.
    param(t, "FrontendDomain", "String", "the frontend's DNS name: the certificate's name")
    param(
        t,
        "HostedZoneId",
        "String",
        "Route 53 zone to make FrontendDomain an alias of the load balancer in; empty: none",
        Default="",
    )
    t.add_condition("HasZone", Not(Equals(Ref("HostedZoneId"), "")))
    param(t, "ClientCidr", "String", "who may reach the frontend", Default="10.0.0.0/16")
    param(t, "CatalogBucket", "String", "the S3 bucket of the image catalog")
    param(t, "FrontendCount", "Number", "frontend replicas", Default="2", MinValue="1")
    param(
        t,
        "JoinTokenParameter",
        "String",
        "SSM parameter holding the join token (a String: CloudFormation reads it)",
        Default="/shipyard/frontend/join-token",
    )
    param(
        t,
        "JoinToken",
        "AWS::SSM::Parameter::Value<String>",
        "the same parameter as JoinTokenParameter, read at deploy for the appliances",
        Default="/shipyard/frontend/join-token",
        NoEcho=True,
    )
    param(
        t,
        "AdminTokenParameter",
        "String",
        "SSM parameter holding the admin token (a SecureString)",
        Default="/shipyard/frontend/admin-token",
    )
    param(t, "ApplianceMaxSize", "Number", "most instances in each appliance group", Default="100")
    for slot in range(1, APPLIANCE_SLOTS + 1):
        param(
            t,
            f"Appliance{slot}",
            "String",
            f"appliance of group {slot}; empty for none",
            Default="backend" if slot == 1 else "",
            AllowedPattern="^$|^[a-z][a-z0-9-]{0,49}$",
        )
        t.add_condition(f"HasAppliance{slot}", Not(Equals(Ref(f"Appliance{slot}"), "")))

    lb_group, frontend_group, database_group, host_group = _security_groups(t)
    secret = generated_secret(t)
    database = postgres(t, resolve_password(secret), Ref(database_group))
    # Adds host, port and engine to the secret, so it names the whole database.
    t.add_resource(
        secretsmanager.SecretTargetAttachment(
            "SecretAttachment",
            SecretId=Ref(secret),
            TargetId=Ref(database),
            TargetType="AWS::RDS::DBInstance",
        )
    )
    balancer, target = _load_balancer(t, lb_group)
    host_role = t.add_resource(
        iam.Role(
            "HostRole",
            AssumeRolePolicyDocument=trust("ec2.amazonaws.com"),
            ManagedPolicyArns=[
                Sub("arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore")
            ],
        )
    )
    host_profile = t.add_resource(iam.InstanceProfile("HostProfile", Roles=[Ref(host_role)]))
    role = t.add_resource(
        iam.Role(
            "FrontendRole",
            AssumeRolePolicyDocument=trust("ec2.amazonaws.com"),
            ManagedPolicyArns=[
                Sub("arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore")
            ],
            Policies=[_frontend_policy(secret, host_role)],
        )
    )
    profile = t.add_resource(iam.InstanceProfile("FrontendProfile", Roles=[Ref(role)]))

    frontend_data = {
        "frontend": {
            "database_secret": "${MasterSecret}",
            "join_token_parameter": "${JoinTokenParameter}",
            "admin_token_parameter": "${AdminTokenParameter}",
            "region": "${AWS::Region}",
        }
    }
    frontend_lt = _launch_template(
        t, "FrontendLaunchTemplate", Ref("ImageId"), profile, frontend_group, frontend_data
    )
    t.add_resource(
        asg.AutoScalingGroup(
            "FrontendGroup",
            DependsOn=["SecretAttachment"],  # first boot reads the database from the secret
            MinSize=Ref("FrontendCount"),
            MaxSize=Ref("FrontendCount"),
            VPCZoneIdentifier=Ref("PrivateSubnetIds"),
            LaunchTemplate=_version(frontend_lt),
            TargetGroupARNs=[Ref(target)],
            HealthCheckType="ELB",
            HealthCheckGracePeriod=300,
            Tags=asg.Tags(Name=Join("-", [Ref("AWS::StackName"), "frontend"])),
        )
    )
    url = Join("", ["https://", Ref("FrontendDomain"), f":{PORT}"])
    t.add_resource(
        route53.RecordSetType(
            "FrontendName",
            Condition="HasZone",
            HostedZoneId=Ref("HostedZoneId"),
            Name=Ref("FrontendDomain"),
            Type="A",
            AliasTarget=route53.AliasTarget(
                HostedZoneId=GetAtt(balancer, "CanonicalHostedZoneID"),
                DNSName=GetAtt(balancer, "DNSName"),
            ),
        )
    )
    for slot in range(1, APPLIANCE_SLOTS + 1):
        _appliance_group(t, slot, host_profile, host_group)

    output(t, "FrontendUrl", url, "where hosts join and admins point `shipyard stack`")
    output(t, "CatalogBucket", Ref("CatalogBucket"), "the image catalog's bucket")
    output(t, "JoinTokenParameter", Ref("JoinTokenParameter"), "SSM parameter of the join token")
    output(t, "DatabaseSecretArn", Ref(secret), "the database's secret (name, password, host)")
    output(t, "DatabaseEndpoint", GetAtt(database, "Endpoint.Address"), "the database's host")
    return t


def _security_groups(t: Template) -> tuple[Any, Any, Any, Any]:
    """Clients → load balancer → frontend → database; the appliances' hosts get nothing in."""
    hosts = security_group(t, "HostGroup", "appliance hosts: nothing in", [])
    balancer = security_group(
        t,
        "LoadBalancerGroup",
        "load balancer: the frontend port from the clients and the appliance hosts",
        [
            ec2.SecurityGroupRule(
                IpProtocol="tcp", FromPort=PORT, ToPort=PORT, CidrIp=Ref("ClientCidr")
            ),
            ec2.SecurityGroupRule(
                IpProtocol="tcp",
                FromPort=PORT,
                ToPort=PORT,
                SourceSecurityGroupId=GetAtt(hosts, "GroupId"),
            ),
        ],
    )
    frontend = security_group(t, "FrontendSecurityGroup", "frontend: from the load balancer", [])
    database = security_group(t, "DatabaseGroup", "database: PostgreSQL from the frontend", [])
    _ingress(t, "FrontendFromLoadBalancer", frontend, balancer, PORT)
    _ingress(t, "DatabaseFromFrontend", database, frontend, 5432)
    return balancer, frontend, database, hosts


def _ingress(t: Template, name: str, group: Any, source: Any, port: int) -> None:
    t.add_resource(
        ec2.SecurityGroupIngress(
            name,
            GroupId=GetAtt(group, "GroupId"),
            IpProtocol="tcp",
            FromPort=port,
            ToPort=port,
            SourceSecurityGroupId=GetAtt(source, "GroupId"),
        )
    )


def _load_balancer(t: Template, group: Any) -> tuple[Any, Any]:
    """An internal HTTPS load balancer on the frontend's port, checking `/healthz`."""
    balancer = t.add_resource(
        elb.LoadBalancer(
            "LoadBalancer",
            Scheme="internal",
            Type="application",
            Subnets=Ref("PrivateSubnetIds"),
            SecurityGroups=[Ref(group)],
        )
    )
    target = t.add_resource(
        elb.TargetGroup(
            "TargetGroup",
            VpcId=Ref("VpcId"),
            Port=PORT,
            Protocol="HTTPS",  # the frontend serves TLS itself; the balancer does not check it
            TargetType="instance",
            HealthCheckPath="/healthz",
            HealthCheckProtocol="HTTPS",
            Matcher=elb.Matcher(HttpCode="200"),
        )
    )
    t.add_resource(
        elb.Listener(
            "Listener",
            LoadBalancerArn=Ref(balancer),
            Port=PORT,
            Protocol="HTTPS",
            Certificates=[elb.Certificate(CertificateArn=Ref("CertificateArn"))],
            DefaultActions=[elb.Action(Type="forward", TargetGroupArn=Ref(target))],
        )
    )
    return balancer, target


def _frontend_policy(secret: Any, host_role: Any) -> iam.Policy:
    """What the frontend does: read its secret, its tokens and the catalog, grow the fleet."""
    parameter = Sub("arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter")
    bucket = Join("", ["arn:", Ref("AWS::Partition"), ":s3:::", Ref("CatalogBucket")])
    launch = [Action(service, name) for service, names in LAUNCH_ACTIONS.items() for name in names]
    return iam.Policy(
        PolicyName="frontend",
        PolicyDocument=PolicyDocument(
            Version="2012-10-17",
            Statement=[
                Statement(
                    Effect=Allow, Action=[secret_actions.GetSecretValue], Resource=[Ref(secret)]
                ),
                Statement(
                    Effect=Allow,
                    Action=[ssm_actions.GetParameter],
                    Resource=[
                        Join("", [parameter, Ref("JoinTokenParameter")]),
                        Join("", [parameter, Ref("AdminTokenParameter")]),
                    ],
                ),
                Statement(Effect=Allow, Action=[s3_actions.ListBucket], Resource=[bucket]),
                Statement(
                    Effect=Allow, Action=[s3_actions.GetObject], Resource=[Join("", [bucket, "/*"])]
                ),
                # `frontend launch`: RunInstances names no resource it could be narrowed to
                # before the instance exists, so the hosts' role is what is held tight.
                Statement(Effect=Allow, Action=launch, Resource=["*"]),
                Statement(
                    Effect=Allow,
                    Action=[iam_actions.PassRole],
                    Resource=[GetAtt(host_role, "Arn")],
                ),
            ],
        ),
    )


def _launch_template(
    t: Template,
    name: str,
    image: Any,
    profile: Any,
    group: Any,
    user_data: dict[str, Any],
) -> ec2.LaunchTemplate:
    """IMDSv2 only (tags in the metadata, for first boot), an encrypted gp3 root."""
    return t.add_resource(
        ec2.LaunchTemplate(
            name,
            LaunchTemplateData=ec2.LaunchTemplateData(
                ImageId=image,
                InstanceType=Ref("InstanceType"),
                IamInstanceProfile=ec2.IamInstanceProfile(Arn=GetAtt(profile, "Arn")),
                MetadataOptions=ec2.MetadataOptions(
                    HttpTokens="required",
                    HttpEndpoint="enabled",
                    HttpPutResponseHopLimit=1,
                    InstanceMetadataTags="enabled",
                ),
                BlockDeviceMappings=[
                    ec2.LaunchTemplateBlockDeviceMapping(
                        DeviceName="/dev/xvda",
                        Ebs=ec2.EBSBlockDevice(
                            VolumeType="gp3",
                            VolumeSize=8,
                            Encrypted=True,
                            DeleteOnTermination=True,
                        ),
                    )
                ],
                SecurityGroupIds=[Ref(group)],
                UserData=Base64(Sub(json.dumps(user_data, sort_keys=True))),
            ),
        )
    )


def _version(lt: ec2.LaunchTemplate) -> asg.LaunchTemplateSpecification:
    return asg.LaunchTemplateSpecification(
        LaunchTemplateId=Ref(lt), Version=GetAtt(lt, "LatestVersionNumber")
    )


def _appliance_group(t: Template, slot: int, profile: Any, group: Any) -> None:
    """Hosts of one appliance: none until `frontend launch --asg` raises the capacity."""
    condition = f"HasAppliance{slot}"
    user_data = {
        "master": f"https://${{FrontendDomain}}:{PORT}",
        "appliance": f"${{Appliance{slot}}}",
        "token": "${JoinToken}",
    }
    lt = _launch_template(
        t,
        f"Appliance{slot}LaunchTemplate",
        Ref("BackendImageId"),
        profile,
        group,
        user_data,
    )
    lt.Condition = condition
    name = Join("-", [Ref("AWS::StackName"), Ref(f"Appliance{slot}")])
    t.add_resource(
        asg.AutoScalingGroup(
            f"Appliance{slot}Group",
            Condition=condition,
            AutoScalingGroupName=name,
            MinSize="0",
            MaxSize=Ref("ApplianceMaxSize"),
            VPCZoneIdentifier=Ref("PrivateSubnetIds"),
            LaunchTemplate=_version(lt),
            Tags=asg.Tags(Name=name, **{"shipyard:appliance": Ref(f"Appliance{slot}")}),
        )
    )
    t.add_output(
        Output(
            f"Appliance{slot}GroupName",
            Condition=condition,
            Value=name,
            Description=f"group {slot}: what `frontend launch --asg` grows",
        )
    )


RECIPE = Recipe(
    name="frontend",
    summary="frontend replicas behind an internal load balancer, RDS PostgreSQL, appliance groups",
    build=build,
    example={
        "VpcId": "vpc-0123456789abcdef0",
        "PrivateSubnetIds": "subnet-0123456789abcdef2,subnet-0123456789abcdef3",
        "ImageId": "ami-0123456789abcdef0",
        "BackendImageId": "ami-0123456789abcdef1",
        "CertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/0123abcd",
        "CatalogBucket": "shipyard-catalog",
        "FrontendDomain": "frontend.example.internal",
    },
)
