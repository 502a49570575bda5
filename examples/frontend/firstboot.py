#!/opt/shipyard/bin/python3
"""First boot of a frontend image: configure `shipyard frontend serve` from the instance.

Runs in Shipyard's own virtualenv (it has boto3). The settings come from the user data,
a JSON document with a "frontend" mapping, every key optional:
  db                     sqlite:////var/lib/shipyard/frontend.db (the default) or postgresql://...
  admin_token            an admin token to adopt (sya_...); minted when absent
  join_token             a join token to adopt (syj_...); minted when absent
  database_secret        a Secrets Manager secret (ARN or name) holding the database: RDS's
                         JSON (username, password, host, port, dbname, engine) or a URL
  admin_token_parameter  an SSM parameter (SecureString) holding the admin token
  join_token_parameter   an SSM parameter holding the join token
  region                 for those two services (default: the instance's region)
  endpoint_url           one endpoint for both (a local moto server, say; the SDK's own
                         AWS_ENDPOINT_URL works too)
What the user data leaves out may come from instance tags served by the metadata service:
shipyard:database-secret, shipyard:admin-token-parameter, shipyard:join-token-parameter.
AWS credentials come from the instance's role (the SDK's default chain).

Secrets never reach the console, the journal or a command line: the database URL goes to
/var/lib/shipyard/frontend.env (0600, owned by the service user), minted tokens to
/var/lib/shipyard/tokens.json (0600). When something named cannot be read, one sentence
says what, and nothing is written, so the service (ConditionPathExists) does not start.
"""

import gzip
import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

STATE = "/var/lib/shipyard"
SERVICE_USER = "shipyard"
# The SDKs honour this variable too, so a test can point both at one emulator.
IMDS_ENV = "AWS_EC2_METADATA_SERVICE_ENDPOINT"
IMDS = "http://169.254.169.254"
USER_DATA_LIMIT = 16384
TAG_PREFIX = "shipyard:"
# user-data key → the instance tag that may name the same thing
FROM_AWS = {
    "database_secret": "database-secret",
    "admin_token_parameter": "admin-token-parameter",
    "join_token_parameter": "join-token-parameter",
}
TOKEN_PREFIXES = {"admin_token": "sya_", "join_token": "syj_"}
KNOWN = ("db", *TOKEN_PREFIXES, *FROM_AWS, "region", "endpoint_url")


class Refused(Exception):
    """One sentence saying what is wrong; it never holds a secret."""


@dataclass(frozen=True)
class Settings:
    """What the frontend is configured with; ``where`` says where each came from."""

    db: str
    tokens: dict = field(default_factory=dict)
    where: dict = field(default_factory=dict)

    def __repr__(self) -> str:  # a traceback must not show the secrets
        return f"Settings(where={self.where!r})"


def default_db(state):
    return f"sqlite:///{state}/frontend.db"


def say(text):
    """The serial console (as the agent's reports, so `shipyard run` shows it) and the journal."""
    print(f"shipyard-frontend: {text}", flush=True)
    try:
        with open("/dev/ttyS0", "w") as console:
            console.write(f"shipyard-frontend: {text}\n")
    except OSError:
        pass
    try:
        import syslog

        syslog.openlog("shipyard-frontend", 0, syslog.LOG_DAEMON)
        syslog.syslog(syslog.LOG_INFO, text)
    except OSError:
        pass


class Metadata:
    """An IMDSv2 reader: a session token, then GETs that carry it."""

    def __init__(self, endpoint=None):
        self.base = (endpoint or os.environ.get(IMDS_ENV) or IMDS).rstrip("/")
        self._token = None

    def token(self):
        if self._token is None:
            request = urllib.request.Request(
                f"{self.base}/latest/api/token",
                method="PUT",
                headers={"X-aws-ec2-metadata-token-ttl-seconds": "300"},
            )
            with urllib.request.urlopen(request, timeout=10) as answer:
                self._token = answer.read().decode()
        return self._token

    def get(self, path):
        """The body at /latest/PATH, or None when there is none (404)."""
        request = urllib.request.Request(
            f"{self.base}/latest/{path}", headers={"X-aws-ec2-metadata-token": self.token()}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.read(USER_DATA_LIMIT + 1)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise

    def tags(self):
        """The instance's tags; none when tags are not in its metadata."""
        listing = self.get("meta-data/tags/instance/")
        if not listing:
            return {}
        found = {}
        for key in listing.decode().split():
            # EC2 allows only letters, digits and + - = . , _ : @ in these keys: no quoting.
            value = self.get(f"meta-data/tags/instance/{key}")
            if value is not None:
                found[key] = value.decode()
        return found

    def region(self):
        value = self.get("meta-data/placement/region")
        return value.decode().strip() if value else None


def requested(user_data, tags):
    """The user data's "frontend" mapping, completed by the shipyard:* tags."""
    if user_data and user_data.startswith(b"\x1f\x8b"):  # gzip'd, as the agent accepts too
        try:
            user_data = gzip.decompress(user_data)
        except (OSError, EOFError):
            raise Refused("user data: it looks gzip'd but does not unpack") from None
    try:
        doc = json.loads(user_data) if user_data and user_data.strip() else {}
    except ValueError:
        doc = {}  # a script or cloud-config is for someone else
    given = doc.get("frontend", {}) if isinstance(doc, dict) else {}
    if not isinstance(given, dict):
        raise Refused("user data: 'frontend' must be a mapping")
    unknown = sorted(set(given) - set(KNOWN))
    if unknown:
        raise Refused(
            f"user data: frontend.{unknown[0]} is not a setting (known: {', '.join(KNOWN)})"
        )
    wanted = dict(given)
    where = {key: "user data" for key in given}
    for key, tag in FROM_AWS.items():
        if key not in wanted and TAG_PREFIX + tag in tags:
            wanted[key] = tags[TAG_PREFIX + tag]
            where[key] = f"tag {TAG_PREFIX}{tag}"
    for key, value in wanted.items():
        if not isinstance(value, str) or not value:
            raise Refused(f"{where[key]}: frontend.{key} must be a non-empty string")
    if "db" in wanted and "database_secret" in wanted:
        raise Refused(
            f"frontend.db ({where['db']}) and frontend.database_secret "
            f"({where['database_secret']}) both name the database; give one"
        )
    for key in TOKEN_PREFIXES:
        if key in wanted and f"{key}_parameter" in wanted:
            raise Refused(
                f"frontend.{key} ({where[key]}) and frontend.{key}_parameter "
                f"({where[key + '_parameter']}) both name the {key.replace('_', ' ')}; give one"
            )
    return wanted, where


def resolve(metadata, state=STATE):
    """The frontend's settings, from the user data, the tags and what they name in AWS."""
    wanted, where = requested(metadata.get("user-data"), metadata.tags())
    db = wanted.get("db", default_db(state))
    db_from = where.get("db", "the default")
    tokens, sources = {}, {}
    needs_aws = [key for key in FROM_AWS if key in wanted]
    clients = _Clients(wanted, metadata) if needs_aws else None
    if "database_secret" in wanted:
        db = clients.database_url(wanted["database_secret"], where["database_secret"])
        db_from = f"secret {wanted['database_secret']} ({where['database_secret']})"
    check_db(db, db_from)
    for key, prefix in TOKEN_PREFIXES.items():
        name = f"{key}_parameter"
        if key in wanted:
            value, sources[key] = wanted[key], where[key]
        elif name in wanted:
            value = clients.parameter(wanted[name], where[name])
            sources[key] = f"parameter {wanted[name]} ({where[name]})"
        else:
            continue
        if not value.startswith(prefix):
            raise Refused(f"{sources[key]}: the {key.replace('_', ' ')} must start with {prefix}")
        tokens[key] = value
    return Settings(db=db, tokens=tokens, where={"db": db_from, **sources})


def check_db(db, where):
    if not db.startswith(("sqlite:///", "postgresql://")):
        raise Refused(f"{where}: the database must be sqlite:///PATH or postgresql://...")
    # frontend.env is read by systemd: keep it one plain line, quoted.
    if any(c in db for c in "'\\\n\r") or not db.isprintable():
        raise Refused(f"{where}: the database URL holds a quote, backslash or control character")


class _Clients:
    """Secrets Manager and SSM, with the instance role's credentials."""

    def __init__(self, wanted, metadata):
        import boto3

        # The role's credentials come from the metadata service; under emulation a guest
        # can be slower to answer than the SDK's default of one second, one attempt.
        os.environ.setdefault("AWS_METADATA_SERVICE_TIMEOUT", "5")
        os.environ.setdefault("AWS_METADATA_SERVICE_NUM_ATTEMPTS", "3")
        region = wanted.get("region") or metadata.region()
        if not region:
            raise Refused("no region: the metadata service has none and user data names none")
        endpoint = wanted.get("endpoint_url")
        session = boto3.Session(region_name=region)
        self.secrets = session.client("secretsmanager", endpoint_url=endpoint)
        self.ssm = session.client("ssm", endpoint_url=endpoint)

    def parameter(self, name, where):
        try:
            answer = self.ssm.get_parameter(Name=name, WithDecryption=True)
        except Exception as exc:  # botocore's errors: say which, never a value
            raise Refused(f"SSM parameter {name} ({where}) cannot be read: {_why(exc)}") from None
        return answer["Parameter"]["Value"].strip()

    def database_url(self, secret_id, where):
        try:
            answer = self.secrets.get_secret_value(SecretId=secret_id)
        except Exception as exc:
            raise Refused(f"secret {secret_id} ({where}) cannot be read: {_why(exc)}") from None
        text = answer.get("SecretString")
        if text is None:
            raise Refused(f"secret {secret_id} ({where}) is binary; it must be text")
        return database_url(text, f"secret {secret_id} ({where})")


def _why(exc):
    code = getattr(exc, "response", {}).get("Error", {}).get("Code")
    if code in ("ParameterNotFound", "ResourceNotFoundException"):
        return "it does not exist"
    if code:
        return code
    return type(exc).__name__  # no credentials, no network: the class names it


def database_url(text, where):
    """A PostgreSQL URL from a secret: a URL as it is, or RDS's JSON fields."""
    text = text.strip()
    if text.startswith(("postgresql://", "sqlite:///")):
        return text
    try:
        fields = json.loads(text)
    except ValueError:
        fields = None
    if not isinstance(fields, dict):
        raise Refused(f"{where} holds neither a database URL nor RDS's JSON fields")
    missing = [k for k in ("username", "password", "host") if not fields.get(k)]
    if missing:
        raise Refused(f"{where} has no {', '.join(missing)}")
    engine = str(fields.get("engine") or "postgres")
    if engine not in ("postgres", "postgresql", "aurora-postgresql"):
        raise Refused(f"{where} is for {engine}; the frontend needs PostgreSQL")
    user = urllib.parse.quote(str(fields["username"]), safe="")
    password = urllib.parse.quote(str(fields["password"]), safe="")
    host = str(fields["host"])
    port = int(fields.get("port") or 5432)
    name = urllib.parse.quote(str(fields.get("dbname") or "postgres"), safe="")
    return f"postgresql://{user}:{password}@{host}:{port}/{name}"


def private_write(path, text, owner):
    """Write ``text`` to ``path`` as a new 0600 file of ``owner`` (uid, gid), then rename."""
    temporary = f"{path}.new"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        if owner is not None:
            os.fchown(fd, *owner)
        with os.fdopen(fd, "w") as out:
            out.write(text)
    except BaseException:
        os.unlink(temporary)
        raise
    os.replace(temporary, path)


def write_environment(settings, state=STATE, owner=None):
    """The service's environment file: the database URL, 0600, the service user's."""
    path = os.path.join(state, "frontend.env")
    private_write(path, f"SHIPYARD_FRONTEND_DB='{settings.db}'\n", owner)
    return path


def service_owner():
    import pwd

    entry = pwd.getpwnam(SERVICE_USER)
    return entry.pw_uid, entry.pw_gid


def initialise(settings, state, owner):
    """`frontend init` as the service user; the database URL and tokens go in its environment."""
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": state,
        "SHIPYARD_FRONTEND_DB": settings.db,
    }
    if "admin_token" in settings.tokens:
        env["SHIPYARD_INIT_ADMIN_TOKEN"] = settings.tokens["admin_token"]
    if "join_token" in settings.tokens:
        env["SHIPYARD_INIT_JOIN_TOKEN"] = settings.tokens["join_token"]
    init = subprocess.run(
        ["runuser", "-u", SERVICE_USER, "--", "/usr/local/bin/shipyard", "frontend", "init",
         "--tls-dir", f"{state}/tls", "--json"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    if init.returncode != 0:
        # The CLI's error is one sentence and never holds a token or a password.
        raise Refused(f"frontend init failed: {init.stderr.strip()}")
    made = json.loads(init.stdout)
    if made.get("initialised") == "now" and len(settings.tokens) < len(TOKEN_PREFIXES):
        private_write(f"{state}/tokens.json", json.dumps(made, indent=2) + "\n", owner)
    return made


def main():
    settings = resolve(Metadata())
    owner = service_owner()
    os.makedirs(STATE, mode=0o700, exist_ok=True)
    os.chown(STATE, *owner)
    made = initialise(settings, STATE, owner)
    write_environment(settings, STATE, owner)
    subprocess.run(["systemctl", "enable", "shipyard-frontend.service"], check=True)
    # --no-block: the service starts after the agent, which is running this very step.
    subprocess.run(["systemctl", "start", "--no-block", "shipyard-frontend.service"], check=True)
    say("settings: " + ", ".join(f"{key} from {src}" for key, src in settings.where.items()))
    say(f"configured, ca_sha256={made['ca_sha256']}")


if __name__ == "__main__":
    try:
        main()
    except Refused as exc:
        say(f"not configured: {exc}")
        sys.exit(1)
    except OSError as exc:  # the metadata service or the state folder
        say(f"not configured: {exc}")
        sys.exit(1)
