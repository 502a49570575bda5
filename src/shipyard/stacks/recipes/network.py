"""`network`: a VPC with public and private subnets in two availability zones, an internet
gateway, an optional NAT gateway, an S3 gateway endpoint and the route tables."""

from __future__ import annotations

from troposphere import Equals, GetAtt, GetAZs, If, Join, Ref, Select, Tags, Template, ec2

from shipyard.stacks.recipes import Recipe
from shipyard.stacks.recipes.common import new_template, output, param


def build() -> Template:
    t = new_template("Shipyard network: VPC, public and private subnets in two AZs")
    param(t, "VpcCidr", "String", "CIDR block of the VPC", Default="10.0.0.0/16")
    cidrs = {
        "PublicSubnet1Cidr": "10.0.0.0/24",
        "PublicSubnet2Cidr": "10.0.1.0/24",
        "PrivateSubnet1Cidr": "10.0.10.0/24",
        "PrivateSubnet2Cidr": "10.0.11.0/24",
    }
    for name, default in cidrs.items():
        param(t, name, "String", f"CIDR block of {name.removesuffix('Cidr')}", Default=default)
    param(
        t,
        "EnableNat",
        "String",
        "`true` gives the private subnets a way out through a NAT gateway",
        Default="false",
        AllowedValues=["true", "false"],
    )
    t.add_condition("WantNat", Equals(Ref("EnableNat"), "true"))

    vpc = t.add_resource(
        ec2.VPC(
            "Vpc",
            CidrBlock=Ref("VpcCidr"),
            EnableDnsHostnames=True,
            EnableDnsSupport=True,
            Tags=Tags(Name=Ref("AWS::StackName")),
        )
    )
    gateway = t.add_resource(ec2.InternetGateway("InternetGateway"))
    attach = t.add_resource(
        ec2.VPCGatewayAttachment(
            "GatewayAttachment", VpcId=Ref(vpc), InternetGatewayId=Ref(gateway)
        )
    )
    public_routes = t.add_resource(ec2.RouteTable("PublicRouteTable", VpcId=Ref(vpc)))
    t.add_resource(
        ec2.Route(
            "PublicDefaultRoute",
            DependsOn=attach.title,
            RouteTableId=Ref(public_routes),
            DestinationCidrBlock="0.0.0.0/0",
            GatewayId=Ref(gateway),
        )
    )
    private_routes = t.add_resource(ec2.RouteTable("PrivateRouteTable", VpcId=Ref(vpc)))
    public, private = [], []
    for index in (0, 1):
        zone = Select(index, GetAZs(""))
        subnet = t.add_resource(
            ec2.Subnet(
                f"PublicSubnet{index + 1}",
                VpcId=Ref(vpc),
                AvailabilityZone=zone,
                CidrBlock=Ref(f"PublicSubnet{index + 1}Cidr"),
                MapPublicIpOnLaunch=True,
                Tags=Tags(Name=Join("-", [Ref("AWS::StackName"), f"public-{index + 1}"])),
            )
        )
        t.add_resource(
            ec2.SubnetRouteTableAssociation(
                f"PublicSubnet{index + 1}Routes",
                SubnetId=Ref(subnet),
                RouteTableId=Ref(public_routes),
            )
        )
        public.append(subnet)
        inner = t.add_resource(
            ec2.Subnet(
                f"PrivateSubnet{index + 1}",
                VpcId=Ref(vpc),
                AvailabilityZone=zone,
                CidrBlock=Ref(f"PrivateSubnet{index + 1}Cidr"),
                Tags=Tags(Name=Join("-", [Ref("AWS::StackName"), f"private-{index + 1}"])),
            )
        )
        t.add_resource(
            ec2.SubnetRouteTableAssociation(
                f"PrivateSubnet{index + 1}Routes",
                SubnetId=Ref(inner),
                RouteTableId=Ref(private_routes),
            )
        )
        private.append(inner)
    address = t.add_resource(
        ec2.EIP("NatAddress", Condition="WantNat", Domain="vpc", DependsOn=attach.title)
    )
    nat = t.add_resource(
        ec2.NatGateway(
            "NatGateway",
            Condition="WantNat",
            AllocationId=GetAtt(address, "AllocationId"),
            SubnetId=Ref(public[0]),
        )
    )
    t.add_resource(
        ec2.Route(
            "PrivateDefaultRoute",
            Condition="WantNat",
            RouteTableId=Ref(private_routes),
            DestinationCidrBlock="0.0.0.0/0",
            NatGatewayId=Ref(nat),
        )
    )
    t.add_resource(
        ec2.VPCEndpoint(
            "S3Endpoint",
            VpcId=Ref(vpc),
            VpcEndpointType="Gateway",
            ServiceName=Join("", ["com.amazonaws.", Ref("AWS::Region"), ".s3"]),
            RouteTableIds=[Ref(public_routes), Ref(private_routes)],
        )
    )
    output(t, "VpcId", Ref(vpc), "the VPC")
    output(
        t, "PublicSubnetIds", Join(",", [Ref(s) for s in public]), "public subnets, comma-separated"
    )
    output(
        t,
        "PrivateSubnetIds",
        Join(",", [Ref(s) for s in private]),
        "private subnets, comma-separated",
    )
    output(t, "NatGatewayId", If("WantNat", Ref(nat), "none"), "the NAT gateway, or `none`")
    return t


RECIPE = Recipe(
    name="network",
    summary="VPC, public and private subnets in two AZs, gateway, optional NAT, S3 endpoint",
    build=build,
    example={"VpcCidr": "10.0.0.0/16", "EnableNat": "false"},
)
