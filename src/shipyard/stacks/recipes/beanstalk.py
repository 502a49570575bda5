"""`beanstalk`: an Elastic Beanstalk application, a version from a zip in S3 and an
environment running it on a Docker platform."""

from __future__ import annotations

from troposphere import GetAtt, Ref, Template
from troposphere import elasticbeanstalk as eb

from shipyard.stacks.recipes import Recipe
from shipyard.stacks.recipes.common import instance_profile, new_template, output, param


def build() -> Template:
    t = new_template("Shipyard Elastic Beanstalk: application, version from S3, environment")
    param(t, "ArtifactBucket", "String", "bucket holding the application zip")
    param(t, "AppZip", "String", "object key of the application zip")
    param(
        t,
        "SolutionStack",
        "String",
        "Beanstalk platform",
        Default="64bit Amazon Linux 2023 v4.3.0 running Docker",
    )
    param(t, "InstanceType", "String", "EC2 instance type", Default="t3.small")
    app = t.add_resource(eb.Application("Application", Description="deployed by Shipyard"))
    version = t.add_resource(
        eb.ApplicationVersion(
            "Version",
            ApplicationName=Ref(app),
            SourceBundle=eb.SourceBundle(S3Bucket=Ref("ArtifactBucket"), S3Key=Ref("AppZip")),
        )
    )
    profile = instance_profile(t)
    environment = t.add_resource(
        eb.Environment(
            "Environment",
            ApplicationName=Ref(app),
            VersionLabel=Ref(version),
            SolutionStackName=Ref("SolutionStack"),
            OptionSettings=[
                eb.OptionSetting(
                    Namespace="aws:autoscaling:launchconfiguration",
                    OptionName="IamInstanceProfile",
                    Value=Ref(profile),
                ),
                eb.OptionSetting(
                    Namespace="aws:autoscaling:launchconfiguration",
                    OptionName="InstanceType",
                    Value=Ref("InstanceType"),
                ),
            ],
        )
    )
    output(t, "ApplicationName", Ref(app), "the Beanstalk application")
    output(t, "EnvironmentUrl", GetAtt(environment, "EndpointURL"), "the environment's URL")
    return t


RECIPE = Recipe(
    name="beanstalk",
    summary="Elastic Beanstalk application, version from a zip in S3, environment",
    build=build,
    example={"ArtifactBucket": "example-artifacts", "AppZip": "artifacts/AppZip/0123abcd.zip"},
)
