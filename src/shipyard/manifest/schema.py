"""The manifest's typed model. Frozen: parsed once, never mutated downstream.

Paths in steps are absolute once the loader has resolved them against the manifest's
folder. ``extends`` is consumed by the loader; it stays in the model only so that the
JSON Schema offers it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    SecretStr,
    Tag,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from shipyard.manifest.sizes import parse_size

# Debian releases Shipyard knows how to boot; codenames only (aliases move).
RELEASES: dict[str, str] = {
    "bullseye": "11",
    "bookworm": "12",
    "trixie": "13",
    "forky": "14",
    "sid": "unstable",
}
ARCHITECTURES = ("amd64", "arm64")
AGENTS = ("shipyard", "cloud-init", "none")

Size = Annotated[
    int,
    BeforeValidator(parse_size),
    PlainSerializer(lambda v: v, return_type=int),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 1},
                {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*[A-Za-z]*\s*$"},
            ],
            "description": "bytes, or a number with a unit: 2GiB, 512MiB, 2G",
        }
    ),
]

_HOSTNAME = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]+(:[a-z0-9]+)?(=[A-Za-z0-9.+~:-]+)?$")
_MODE = re.compile(r"^0?[0-7]{3,4}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class System(Model):
    release: str = "bookworm"
    architecture: Literal["amd64", "arm64"] = "amd64"
    hostname: str = "debian"
    user: str = "admin"
    timezone: str = "UTC"
    locale: str = "C.UTF-8"
    initramfs: Literal["cloud", "most", "none"] = Field(
        default="cloud",
        description="cloud: a small initramfs with only the disk drivers of EC2 and qemu "
        "(virtio, Xen), which GRUB skips on Nitro instances and Shipyard's local VMs, whose "
        "NVMe root the amd64 cloud kernel mounts by itself; most: initramfs-tools' default, "
        "for other hardware, always used; none: never used, the fastest boot, but only "
        "where the root is on NVMe: not on Xen instances or virtio disks",
    )
    ssh_host_keys: tuple[Literal["ed25519", "ecdsa", "rsa"], ...] = Field(
        default=("ed25519", "ecdsa"),
        description="the SSH host key types each instance makes at first boot. RSA is "
        "left out by default: every SSH client of the last ten years speaks ed25519 or "
        "ECDSA, and an RSA key costs seconds of boot on a small or emulated CPU",
    )

    @field_validator("release")
    @classmethod
    def _known_release(cls, value: str) -> str:
        if value not in RELEASES:
            raise ValueError(f"unknown release {value!r}; expected one of {', '.join(RELEASES)}")
        return value

    @field_validator("ssh_host_keys")
    @classmethod
    def _some_host_keys(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("name at least one key type (ed25519, ecdsa, rsa): sshd needs one")
        return tuple(dict.fromkeys(value))

    @field_validator("hostname")
    @classmethod
    def _hostname(cls, value: str) -> str:
        if not _HOSTNAME.match(value):
            raise ValueError(
                f"{value!r} is not a host name (lower-case letters, digits and '-', up to 63)"
            )
        return value

    @field_validator("user")
    @classmethod
    def _user(cls, value: str) -> str:
        if not _USER.match(value) or value == "root":
            raise ValueError(f"{value!r} is not a valid non-root user name")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$", value):
            raise ValueError(f"{value!r} is not a time zone name such as UTC or Europe/Berlin")
        return value


class Packages(Model):
    mirror: str = "http://deb.debian.org/debian"
    security_mirror: str = "http://deb.debian.org/debian-security"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    components: tuple[str, ...] = ("main",)
    # Documentation, man pages and translations; dropped by default as cloud images do.
    docs: bool = False
    hwdb: bool = Field(
        default=False,
        description="udev's hardware database (about 20 MiB): names and quirks of USB, "
        "PCI, input and sensor devices, which cloud instances do not have. Left out by "
        "default; network interface names do not depend on it",
    )

    @field_validator("mirror", "security_mirror")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^(https?|file)://\S+$", value):
            raise ValueError(f"{value!r} is not a mirror URL (http://, https:// or file://)")
        return value.rstrip("/")

    @field_validator("include", "exclude")
    @classmethod
    def _package_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not _PACKAGE.match(name):
                raise ValueError(f"{name!r} is not a Debian package name")
        return value


class Volume(Model):
    size: Size = 2 * 1024**3
    filesystem: Literal["ext4"] = "ext4"
    boot: tuple[Literal["uefi", "bios"], ...] = ("uefi", "bios")
    id_seed: str | None = Field(
        default=None,
        max_length=200,
        description="derive the GPT GUIDs, filesystem UUIDs, FAT serial and ext4 hash seed "
        "from this string (by default from the manifest's digest)",
    )

    @field_validator("size")
    @classmethod
    def _big_enough(cls, value: int) -> int:
        if value < 512 * 1024**2:
            raise ValueError("the volume must be at least 512MiB")
        if value > 16 * 1024**4:
            raise ValueError("the volume must be at most 16TiB (EBS's limit)")
        return value

    @field_validator("boot")
    @classmethod
    def _boot(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one boot mode is needed: uefi, bios or both")
        if len(set(value)) != len(value):
            raise ValueError("a boot mode is listed twice")
        return value


class ShellStep(Model):
    shell: str = Field(min_length=1)


class ScriptStep(Model):
    script: Path


# YAML 1.1 reads an unquoted 0644 as the octal integer 420; the validator turns it back,
# and the JSON Schema allows both spellings so editors do not flag what loads.
FileMode = Annotated[
    str,
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "pattern": _MODE.pattern}, {"type": "integer"}],
            "description": 'a file mode such as "0644"',
        }
    ),
]


class FileSpec(Model):
    source: Path
    destination: str
    mode: FileMode = "0644"
    owner: str = "root:root"

    @field_validator("destination")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/") or "/../" in f"{value}/":
            raise ValueError(f"{value!r} must be an absolute path inside the image")
        return value

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            # YAML reads 0644 as the octal int 420; keep what the user meant.
            value = f"{value:04o}"
        if not isinstance(value, str) or not _MODE.match(value):
            raise ValueError(f'{value!r} is not a file mode such as "0644"')
        return value.zfill(4)

    @field_validator("owner")
    @classmethod
    def _owner(cls, value: str) -> str:
        if not re.match(r"^[a-z_][a-z0-9_-]*(:[a-z_][a-z0-9_-]*)?$", value):
            raise ValueError(f"{value!r} is not an owner such as root or admin:admin")
        return value


class FileStep(Model):
    file: FileSpec


_TAG = re.compile(r"^[A-Za-z0-9_.-]+$")


class AnsibleSpec(Model):
    """A playbook Ansible runs on the build host against the image root.

    Paths are relative to the manifest that names them. ``vars`` reach the playbook as
    extra vars, through a file, never on a command line.
    """

    playbook: Path
    roles_path: tuple[Path, ...] = ()
    collections_path: tuple[Path, ...] = ()
    vars: dict[str, Any] = {}
    vars_files: tuple[Path, ...] = ()
    tags: tuple[str, ...] = ()
    skip_tags: tuple[str, ...] = ()

    @field_validator("tags", "skip_tags")
    @classmethod
    def _tags(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for tag in value:
            if not _TAG.match(tag):
                raise ValueError(f"{tag!r} is not a tag (letters, digits, _ . -)")
        return value

    @field_validator("vars")
    @classmethod
    def _var_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", str(name)):
                raise ValueError(f"{name!r} is not a variable name (letters, digits and _)")
        return value


class AnsibleStep(Model):
    ansible: AnsibleSpec


STEP_KINDS: dict[str, type[Model]] = {
    "shell": ShellStep,
    "script": ScriptStep,
    "file": FileStep,
    "ansible": AnsibleStep,
}


def step_kind(value: Any) -> str | None:
    """Which kind of step ``value`` is: the one step key it has (shell, script, ...)."""
    if isinstance(value, dict):
        kinds = [kind for kind in STEP_KINDS if kind in value]
        return kinds[0] if len(kinds) == 1 else None
    for kind, model in STEP_KINDS.items():
        if isinstance(value, model):
            return kind
    return None


# Chosen by the step's key, so a wrong step is checked against the kind it names only.
ProvisionStep = Annotated[
    Annotated[ShellStep, Tag("shell")]
    | Annotated[ScriptStep, Tag("script")]
    | Annotated[FileStep, Tag("file")]
    | Annotated[AnsibleStep, Tag("ansible")],
    Discriminator(step_kind),
]
BootstrapStep = Annotated[
    Annotated[ShellStep, Tag("shell")]
    | Annotated[ScriptStep, Tag("script")]
    | Annotated[AnsibleStep, Tag("ansible")],
    Discriminator(step_kind),
]


class Ec2Credentials(Model):
    """Explicit AWS keys (bootstrap-vz's ``credentials``); kept secret in every dump."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    access_key: SecretStr = Field(alias="access-key")
    secret_key: SecretStr = Field(alias="secret-key")
    # For S3-backed (bundled) images: the user's X.509 certificate, its private key, account.
    certificate: str | None = None
    private_key: str | None = Field(default=None, alias="private-key")
    user_id: str | None = Field(default=None, alias="user-id")


class Ec2Target(Model):
    """Publish to EC2 as an AMI. Fields mirror ``shipyard publish --to ec2``."""

    to: Literal["ec2"]
    region: str | None = None
    copy_to: tuple[str, ...] = ()
    name: str | None = None
    description: str | None = None
    public: bool = False
    share_with: tuple[str, ...] = ()
    tags: dict[str, str] = {}
    boot_mode: Literal["legacy-bios", "uefi", "uefi-preferred"] | None = None
    deprecate_in: int | None = Field(default=None, ge=1)
    endpoint_url: str | None = None
    profile: str | None = None
    # ENA and SR-IOV ("enhanced networking"); off only for very old instance types.
    enhanced_networking: bool = True
    force: bool = False
    keep_on_failure: bool = False
    credentials: Ec2Credentials | None = None
    # ebs: a snapshot-backed AMI; s3: an instance-store AMI bundled into ``bucket``.
    backing: Literal["ebs", "s3"] = "ebs"
    bucket: str | None = None
    prefix: str = ""
    user_cert: str | None = None
    user_key: str | None = None
    account_id: str | None = None

    @model_validator(mode="after")
    def _public_or_shared(self) -> Ec2Target:
        if self.public and self.share_with:
            raise ValueError("public and share_with exclude each other")
        if self.backing == "s3" and not self.bucket:
            raise ValueError("backing s3 needs a bucket")
        return self

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", value):
            raise ValueError(f"{value!r} is not an S3 bucket name")
        return value

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        value = value.strip("/")
        if value and not re.match(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$", value):
            raise ValueError(f"{value!r} is not a key prefix (letters, digits, . _ - and /)")
        if ".." in value.split("/"):
            raise ValueError(f"{value!r}: a key prefix cannot hold '..'")
        return value

    @field_validator("account_id")
    @classmethod
    def _account_id(cls, value: str | None) -> str | None:
        if value is not None:
            value = value.replace("-", "")
            if not re.match(r"^\d{12}$", value):
                raise ValueError(f"{value!r} is not an AWS account id (12 digits)")
        return value

    @field_validator("share_with")
    @classmethod
    def _accounts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for account in value:
            if not re.match(r"^\d{12}$", account):
                raise ValueError(f"{account!r} is not an AWS account id (12 digits)")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and not _REGION.match(value):
            raise ValueError(f"{value!r} is not an AWS region name such as eu-west-1")
        return value

    @field_validator("copy_to")
    @classmethod
    def _regions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for region in value:
            if not _REGION.match(region):
                raise ValueError(f"{region!r} is not an AWS region name such as eu-west-1")
        return value


class Ec2Provider(Model):
    """bootstrap-vz's ``provider:`` section; Shipyard publishes it as an ec2 target."""

    name: Literal["ec2"]
    virtualization: Literal["hvm"] = "hvm"
    enhanced_networking: Literal["simple", "none"] = "simple"
    region: str | None = None
    description: str | None = None
    credentials: Ec2Credentials | None = None
    backing: Literal["ebs", "s3"] = "ebs"
    bucket: str | None = None

    def as_target(self) -> Ec2Target:
        return Ec2Target(
            to="ec2",
            region=self.region,
            description=self.description,
            enhanced_networking=self.enhanced_networking == "simple",
            credentials=self.credentials,
            backing=self.backing,
            bucket=self.bucket,
        )


class CatalogTarget(Model):
    """Add the build to an image catalog."""

    to: Literal["catalog"]
    store: str | None = None
    channel: Literal["daily", "stable"] = "daily"


PublishTarget = Annotated[Ec2Target | CatalogTarget, Field(discriminator="to")]


class Manifest(Model):
    name: str = "debian-{release}-{flavour}-{arch}-{date}"
    description: str = ""
    extends: str | None = None
    flavour: str = "default"
    system: System = System()
    packages: Packages = Packages()
    volume: Volume = Volume()
    provision: tuple[ProvisionStep, ...] = ()
    bootstrap: tuple[BootstrapStep, ...] = ()
    agent: Literal["shipyard", "cloud-init", "none"] = "shipyard"
    formats: tuple[Literal["raw", "qcow2", "vmdk", "vhd"], ...] = ("raw",)
    publish: tuple[PublishTarget, ...] = ()
    provider: Ec2Provider | None = None
    # Off by default: a manifest from elsewhere must not pull the build host's files
    # (../../etc/shadow, a link out of its folder) into an image.
    source_date_epoch: int | None = Field(
        default=None,
        ge=0,
        description="the time (seconds since 1970) no file in the image is newer than; by "
        "default the newest Debian changelog among the installed packages",
    )
    allow_sources_outside: bool = Field(
        default=False,
        description="let script and file sources lie outside the folder of the manifest "
        "that names them (by default they must be inside it, links resolved)",
    )

    @field_validator("flavour")
    @classmethod
    def _flavour(cls, value: str) -> str:
        if not re.match(r"^[a-z0-9][a-z0-9._-]*$", value):
            raise ValueError(f"{value!r} is not a flavour name (lower-case letters, digits, . _ -)")
        return value

    @field_validator("formats")
    @classmethod
    def _formats(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("a format is listed twice")
        # raw is always produced: every other format is converted from it.
        return value if "raw" in value else ("raw", *value)

    @model_validator(mode="after")
    def _provider_publishes(self) -> Manifest:
        # A bootstrap-vz provider section means "publish to EC2" unless publish says how.
        if self.provider and not any(isinstance(t, Ec2Target) for t in self.publish):
            object.__setattr__(self, "publish", (*self.publish, self.provider.as_target()))
        return self
