"""`security-groups`: web, app and database tiers, each open only to the tier in front."""

from __future__ import annotations

from troposphere import GetAtt, Ref, Template, ec2

from shipyard.stacks.recipes import Recipe
from shipyard.stacks.recipes.common import (
    from_anywhere,
    new_template,
    output,
    param,
    security_group,
    vpc_param,
)


def build() -> Template:
    t = new_template("Shipyard security groups: web, app and database tiers")
    vpc_param(t)
    param(t, "AppPort", "Number", "port the app tier listens on", Default="8080")
    param(t, "DatabasePort", "Number", "port the database listens on", Default="5432")
    web = security_group(
        t,
        "WebGroup",
        "web tier: HTTP and HTTPS from anywhere",
        [from_anywhere(80), from_anywhere(443)],
    )
    app = security_group(t, "AppGroup", "app tier: its port from the web tier", [])
    database = security_group(t, "DatabaseGroup", "database tier: its port from the app tier", [])
    t.add_resource(
        ec2.SecurityGroupIngress(
            "AppFromWeb",
            GroupId=GetAtt(app, "GroupId"),
            IpProtocol="tcp",
            FromPort=Ref("AppPort"),
            ToPort=Ref("AppPort"),
            SourceSecurityGroupId=GetAtt(web, "GroupId"),
        )
    )
    t.add_resource(
        ec2.SecurityGroupIngress(
            "DatabaseFromApp",
            GroupId=GetAtt(database, "GroupId"),
            IpProtocol="tcp",
            FromPort=Ref("DatabasePort"),
            ToPort=Ref("DatabasePort"),
            SourceSecurityGroupId=GetAtt(app, "GroupId"),
        )
    )
    output(t, "WebGroupId", GetAtt(web, "GroupId"), "security group of the web tier")
    output(t, "AppGroupId", GetAtt(app, "GroupId"), "security group of the app tier")
    output(t, "DatabaseGroupId", GetAtt(database, "GroupId"), "security group of the database tier")
    return t


RECIPE = Recipe(
    name="security-groups",
    summary="web, app and database security groups referencing each other",
    build=build,
    example={"VpcId": "vpc-0123456789abcdef0"},
)
