"""Pieces several recipes share: documented parameters and outputs, roles, the instance's
launch template (IMDSv2 only, an encrypted gp3 root) and the load balancer in front of it."""

from __future__ import annotations

from typing import Any

from awacs import s3 as s3_actions
from awacs.aws import Allow, PolicyDocument, Principal, Statement
from awacs.sts import AssumeRole
from troposphere import (
    Base64,
    Equals,
    GetAtt,
    Join,
    Not,
    Output,
    Parameter,
    Ref,
    Sub,
    Template,
    ec2,
    iam,
)
from troposphere import autoscaling as asg
from troposphere import elasticloadbalancingv2 as elb


def new_template(description: str) -> Template:
    template = Template(Description=description)
    template.set_version("2010-09-09")
    return template


def param(template: Template, name: str, kind: str, description: str, **extra: Any) -> Parameter:
    """A parameter whose description is what `shipyard stacks render` documents."""
    return template.add_parameter(Parameter(name, Type=kind, Description=description, **extra))


def output(template: Template, name: str, value: Any, description: str) -> None:
    template.add_output(Output(name, Value=value, Description=description))


def image_param(template: Template) -> Parameter:
    return param(
        template,
        "ImageId",
        "AWS::EC2::Image::Id",
        "AMI the instances boot; a stack file's `image:` fills it in from the catalog",
    )


def instance_type_param(template: Template, default: str = "t3.small") -> Parameter:
    return param(template, "InstanceType", "String", "EC2 instance type", Default=default)


def subnets_param(template: Template, name: str, description: str) -> Parameter:
    return param(template, name, "List<AWS::EC2::Subnet::Id>", description)


def vpc_param(template: Template) -> Parameter:
    return param(template, "VpcId", "AWS::EC2::VPC::Id", "VPC to place everything in")


def trust(service: str) -> PolicyDocument:
    """The policy that lets ``service`` (ec2.amazonaws.com, ...) take a role."""
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(Effect=Allow, Action=[AssumeRole], Principal=Principal("Service", service))
        ],
    )


def read_object_policy(bucket: Any, key: Any) -> iam.Policy:
    """Exactly one S3 object readable: what an instance needs to fetch its zip."""
    return iam.Policy(
        PolicyName="read-artifact",
        PolicyDocument=PolicyDocument(
            Version="2012-10-17",
            Statement=[
                Statement(
                    Effect=Allow,
                    Action=[s3_actions.GetObject],
                    Resource=[
                        Join("", ["arn:", Ref("AWS::Partition"), ":s3:::", bucket, "/", key])
                    ],
                )
            ],
        ),
    )


def instance_profile(
    template: Template, policies: list[iam.Policy] | None = None, managed: list[str] | None = None
) -> iam.InstanceProfile:
    """A role for the instances (SSM's core policy for access without SSH) and its profile."""
    role = template.add_resource(
        iam.Role(
            "InstanceRole",
            AssumeRolePolicyDocument=trust("ec2.amazonaws.com"),
            ManagedPolicyArns=[
                Sub("arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"),
                *(managed or []),
            ],
            Policies=policies or [],
        )
    )
    return template.add_resource(iam.InstanceProfile("InstanceProfile", Roles=[Ref(role)]))


def launch_template(
    template: Template,
    profile: iam.InstanceProfile,
    security_groups: list[Any],
    user_data: str | None = None,
    volume_size: int = 8,
) -> ec2.LaunchTemplate:
    """Instances from ``ImageId``: IMDSv2 required, an encrypted gp3 root, the profile."""
    data: dict[str, Any] = {
        "ImageId": Ref("ImageId"),
        "InstanceType": Ref("InstanceType"),
        "IamInstanceProfile": ec2.IamInstanceProfile(Arn=GetAtt(profile, "Arn")),
        "MetadataOptions": ec2.MetadataOptions(
            HttpTokens="required", HttpEndpoint="enabled", HttpPutResponseHopLimit=2
        ),
        "BlockDeviceMappings": [
            ec2.LaunchTemplateBlockDeviceMapping(
                DeviceName="/dev/xvda",
                Ebs=ec2.EBSBlockDevice(
                    VolumeType="gp3",
                    VolumeSize=volume_size,
                    Encrypted=True,
                    DeleteOnTermination=True,
                ),
            )
        ],
        "SecurityGroupIds": security_groups,
    }
    if user_data is not None:
        data["UserData"] = Base64(Sub(user_data))
    return template.add_resource(
        ec2.LaunchTemplate("LaunchTemplate", LaunchTemplateData=ec2.LaunchTemplateData(**data))
    )


def security_group(
    template: Template, name: str, description: str, ingress: list[ec2.SecurityGroupRule]
) -> ec2.SecurityGroup:
    return template.add_resource(
        ec2.SecurityGroup(
            name, GroupDescription=description, VpcId=Ref("VpcId"), SecurityGroupIngress=ingress
        )
    )


def from_anywhere(port: int) -> ec2.SecurityGroupRule:
    return ec2.SecurityGroupRule(IpProtocol="tcp", FromPort=port, ToPort=port, CidrIp="0.0.0.0/0")


def from_group(port: int, group: Any) -> ec2.SecurityGroupRule:
    return ec2.SecurityGroupRule(
        IpProtocol="tcp", FromPort=port, ToPort=port, SourceSecurityGroupId=group
    )


def load_balanced_group(
    template: Template,
    lt: ec2.LaunchTemplate,
    *,
    port: int,
    health_path: str,
    lb_group: ec2.SecurityGroup,
    minimum: Any = "1",
    maximum: Any = "2",
    https: bool = False,
) -> elb.TargetGroup:
    """An application load balancer in the public subnets forwarding port 80 (and 443 when
    a certificate is given) to ``port`` on an auto-scaling group in the private subnets."""
    balancer = template.add_resource(
        elb.LoadBalancer(
            "LoadBalancer",
            Scheme="internet-facing",
            Type="application",
            Subnets=Ref("PublicSubnetIds"),
            SecurityGroups=[Ref(lb_group)],
        )
    )
    target = template.add_resource(
        elb.TargetGroup(
            "TargetGroup",
            VpcId=Ref("VpcId"),
            Port=port,
            Protocol="HTTP",
            TargetType="instance",
            HealthCheckPath=health_path,
            HealthCheckProtocol="HTTP",
            Matcher=elb.Matcher(HttpCode="200-399"),
        )
    )
    forward = [elb.Action(Type="forward", TargetGroupArn=Ref(target))]
    template.add_resource(
        elb.Listener(
            "HttpListener",
            LoadBalancerArn=Ref(balancer),
            Port=80,
            Protocol="HTTP",
            DefaultActions=forward,
        )
    )
    if https:
        template.add_condition("WantHttps", Not(Equals(Ref("CertificateArn"), "")))
        template.add_resource(
            elb.Listener(
                "HttpsListener",
                Condition="WantHttps",
                LoadBalancerArn=Ref(balancer),
                Port=443,
                Protocol="HTTPS",
                Certificates=[elb.Certificate(CertificateArn=Ref("CertificateArn"))],
                DefaultActions=forward,
            )
        )
    template.add_resource(
        asg.AutoScalingGroup(
            "AutoScalingGroup",
            MinSize=minimum,
            MaxSize=maximum,
            VPCZoneIdentifier=Ref("PrivateSubnetIds"),
            LaunchTemplate=asg.LaunchTemplateSpecification(
                LaunchTemplateId=Ref(lt), Version=GetAtt(lt, "LatestVersionNumber")
            ),
            TargetGroupARNs=[Ref(target)],
            HealthCheckType="ELB",
            HealthCheckGracePeriod=300,
            Tags=asg.Tags(Name=Ref("AWS::StackName")),
        )
    )
    output(template, "LoadBalancerDns", GetAtt(balancer, "DNSName"), "the load balancer's DNS name")
    output(
        template,
        "Url",
        Join("", ["http://", GetAtt(balancer, "DNSName"), "/"]),
        "where the service answers",
    )
    return target
