"""`rds`: PostgreSQL in the private subnets with a subnet group, encrypted storage and a
snapshot when the stack is deleted; the password is a NoEcho parameter, or, when that
is left empty, a secret generated in Secrets Manager."""

from __future__ import annotations

from typing import Any

from troposphere import Equals, GetAtt, If, Join, Ref, Template, rds, secretsmanager

from shipyard.stacks.recipes import Recipe
from shipyard.stacks.recipes.common import new_template, output, param, subnets_param


def build() -> Template:
    t = new_template("Shipyard database: PostgreSQL in the private subnets")
    subnets_param(t, "PrivateSubnetIds", "subnets of the database (two AZs)")
    param(t, "SecurityGroupId", "AWS::EC2::SecurityGroup::Id", "the database tier's security group")
    param(
        t,
        "MasterPassword",
        "String",
        "the administrator's password; empty generates a secret",
        Default="",
        NoEcho=True,
    )
    t.add_condition("GenerateSecret", Equals(Ref("MasterPassword"), ""))
    secret = generated_secret(t, Condition="GenerateSecret")
    password = If("GenerateSecret", resolve_password(secret), Ref("MasterPassword"))
    database = postgres(t, password, Ref("SecurityGroupId"))
    # A password given as a NoEcho parameter is a choice this recipe offers.
    database.Metadata = {"cfn-lint": {"config": {"ignore_checks": ["W1011"]}}}
    output(t, "Endpoint", GetAtt(database, "Endpoint.Address"), "the database's host name")
    output(t, "Port", GetAtt(database, "Endpoint.Port"), "the database's port")
    output(
        t, "SecretArn", If("GenerateSecret", Ref(secret), "none"), "the generated secret, or `none`"
    )
    return t


def generated_secret(t: Template, **extra: Any) -> secretsmanager.Secret:
    """A Secrets Manager secret holding the administrator's name and a generated password."""
    return t.add_resource(
        secretsmanager.Secret(
            "MasterSecret",
            Description=Join(" ", ["database password of", Ref("AWS::StackName")]),
            GenerateSecretString=secretsmanager.GenerateSecretString(
                SecretStringTemplate=Join("", ['{"username":"', Ref("MasterUsername"), '"}']),
                GenerateStringKey="password",
                PasswordLength=32,
                ExcludePunctuation=True,
            ),
            **extra,
        )
    )


def resolve_password(secret: secretsmanager.Secret) -> Join:
    return Join("", ["{{resolve:secretsmanager:", Ref(secret), ":SecretString:password}}"])


def postgres(t: Template, password: Any, security_group: Any) -> rds.DBInstance:
    """Encrypted PostgreSQL in ``PrivateSubnetIds``, a snapshot when replaced or deleted.

    Adds the parameters it takes: the instance class, storage, version and the
    administrator's name (which ``generated_secret`` also reads).
    """
    param(t, "InstanceClass", "String", "database instance class", Default="db.t3.micro")
    param(t, "StorageGiB", "Number", "allocated storage in GiB", Default="20", MinValue="20")
    param(t, "EngineVersion", "String", "PostgreSQL version", Default="16")
    param(t, "MasterUsername", "String", "the administrator's name", Default="shipyard")
    group = t.add_resource(
        rds.DBSubnetGroup(
            "SubnetGroup",
            DBSubnetGroupDescription="private subnets",
            SubnetIds=Ref("PrivateSubnetIds"),
        )
    )
    return t.add_resource(
        rds.DBInstance(
            "Database",
            DeletionPolicy="Snapshot",
            UpdateReplacePolicy="Snapshot",
            Engine="postgres",
            EngineVersion=Ref("EngineVersion"),
            DBInstanceClass=Ref("InstanceClass"),
            AllocatedStorage=Ref("StorageGiB"),
            StorageType="gp3",
            StorageEncrypted=True,
            MasterUsername=Ref("MasterUsername"),
            MasterUserPassword=password,
            DBSubnetGroupName=Ref(group),
            VPCSecurityGroups=[security_group],
            PubliclyAccessible=False,
            BackupRetentionPeriod=7,
            DeletionProtection=False,
        )
    )


RECIPE = Recipe(
    name="rds",
    summary="PostgreSQL in private subnets, encrypted, snapshot on delete, generated secret",
    build=build,
    example={
        "PrivateSubnetIds": "subnet-0123456789abcdef2,subnet-0123456789abcdef3",
        "SecurityGroupId": "sg-0123456789abcdef0",
    },
)
