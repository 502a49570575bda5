"""`s3`: an encrypted, versioned bucket with public access blocked and a lifecycle rule."""

from __future__ import annotations

from troposphere import GetAtt, Ref, Template, s3

from shipyard.stacks.recipes import Recipe
from shipyard.stacks.recipes.common import new_template, output, param


def build() -> Template:
    t = new_template("Shipyard bucket: encrypted, versioned, private, old versions expire")
    param(
        t,
        "NoncurrentDays",
        "Number",
        "days an overwritten or deleted object's old version is kept",
        Default="30",
        MinValue="1",
    )
    bucket = t.add_resource(
        s3.Bucket(
            "Bucket",
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
            BucketEncryption=s3.BucketEncryption(
                ServerSideEncryptionConfiguration=[
                    s3.ServerSideEncryptionRule(
                        ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(
                            SSEAlgorithm="AES256"
                        )
                    )
                ]
            ),
            VersioningConfiguration=s3.VersioningConfiguration(Status="Enabled"),
            PublicAccessBlockConfiguration=s3.PublicAccessBlockConfiguration(
                BlockPublicAcls=True,
                BlockPublicPolicy=True,
                IgnorePublicAcls=True,
                RestrictPublicBuckets=True,
            ),
            LifecycleConfiguration=s3.LifecycleConfiguration(
                Rules=[
                    s3.LifecycleRule(
                        Id="expire-old-versions",
                        Status="Enabled",
                        NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(
                            NoncurrentDays=Ref("NoncurrentDays")
                        ),
                        AbortIncompleteMultipartUpload=s3.AbortIncompleteMultipartUpload(
                            DaysAfterInitiation=7
                        ),
                    )
                ]
            ),
        )
    )
    output(t, "BucketName", Ref(bucket), "the bucket's name")
    output(t, "BucketArn", GetAtt(bucket, "Arn"), "the bucket's ARN")
    return t


RECIPE = Recipe(
    name="s3",
    summary="encrypted, versioned bucket, public access blocked, lifecycle rule",
    build=build,
    example={"NoncurrentDays": "30"},
)
