"""Examples shown at the end of every command's --help, as `git` and `kubectl` show them.

Keyed by command path. `build_parser` attaches them; a test checks that every command
that runs something has some, and the CLI reference (docs/cli.md) is made from them too.
"""

from __future__ import annotations

EXAMPLES: dict[tuple[str, ...], tuple[str, ...]] = {
    ("build",): (
        "shipyard build examples/minimal.yml",
        "shipyard build examples/minimal.yml -o builds --set volume.size=4GiB",
        "shipyard build examples/minimal.yml --no-publish --json | jq -r .id",
        "shipyard build examples/minimal.yml --lock",
        "shipyard build examples/minimal.yml --locked shipyard.lock --no-cache",
    ),
    ("inspect",): (
        "shipyard inspect builds/20261203-091502-a1b2c3",
        "shipyard inspect builds/20261203-091502-a1b2c3/build.json --json",
    ),
    ("verify",): (
        "shipyard verify builds/20261203-091502-a1b2c3",
        "shipyard verify builds/20261203-091502-a1b2c3/disk.qcow2",
        "shipyard verify BUILD --keyring catalog-key.asc --json",
    ),
    ("diff",): (
        "shipyard diff builds/20261203-091502-a1b2c3 builds/20261210-080011-d4e5f6",
        "shipyard diff BUILD_A BUILD_B --json | jq .packages.upgraded",
        "shipyard diff BUILD_A BUILD_B --files --most 50",
    ),
    ("manifest", "validate"): (
        "shipyard manifest validate examples/minimal.yml",
        "shipyard manifest validate web.yml --set release=trixie --json",
    ),
    ("manifest", "schema"): ("shipyard manifest schema > manifest.schema.json",),
    ("run",): (
        "shipyard run builds/20261203-091502-a1b2c3",
        "shipyard run BUILD --user-data user-data.yml --ssh-key ~/.ssh/id_ed25519.pub --keep",
        "shipyard run BUILD --firmware bios --accel tcg --wait-ready --json",
        "shipyard run BUILD --detach --wait-ready --forward 8470 --forward 8443:443",
        "shipyard run BUILD --iam-role frontend --tag shipyard:database-secret=frontend/db",
    ),
    ("ps",): ("shipyard ps", "shipyard ps --json"),
    ("stop",): ("shipyard stop i-0a1b2c3d", "shipyard stop --all"),
    ("ssh",): (
        "shipyard ssh i-0a1b2c3d",
        "shipyard ssh i-0a1b -i ~/.ssh/id_ed25519 -- systemctl status shipyard-agent",
    ),
    ("imds", "serve"): (
        "shipyard imds serve --user-data user-data.yml --port 8169",
        "shipyard imds serve --tag Name=web-1 --iam-role web",
        "curl -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' http://127.0.0.1:8169/latest/api/token",
    ),
    ("publish",): (
        "shipyard publish BUILD --to ec2 --region us-east-1 --copy-to us-west-2,eu-west-1",
        "shipyard publish BUILD --to ec2 --endpoint-url http://127.0.0.1:5000 --tag team=images",
        "shipyard publish BUILD --to catalog --store ./catalog --channel stable",
        "shipyard publish BUILD --to ec2 --backing s3 --bucket my-bundles --user-cert cert.pem "
        "--user-key key.pem --account-id 123456789012",
    ),
    ("bundle", "unbundle"): (
        "shipyard bundle unbundle s3://my-bundles/minimal/image.manifest.xml -o disk.raw "
        "--user-key key.pem",
        "shipyard bundle unbundle ./image.manifest.xml -o disk.raw --user-key key.pem",
    ),
    ("iam-policy",): (
        "shipyard iam-policy --for publish > publish-policy.json",
        "shipyard iam-policy --for stacks",
        "shipyard iam-policy --for all",
    ),
    ("stacks", "list"): ("shipyard stacks list", "shipyard stacks list --offline --json"),
    ("stacks", "render"): (
        "shipyard stacks render web",
        "shipyard stacks render web-dev --dir examples/stacks --format json -o web.json",
    ),
    ("stacks", "lint"): ("shipyard stacks lint network", "shipyard stacks lint my-template.yml"),
    ("stacks", "diff"): ("shipyard stacks diff web-dev --dir examples/stacks",),
    ("stacks", "deploy"): (
        "shipyard stacks deploy network-dev --dir examples/stacks --yes",
        "shipyard stacks deploy web-prod --var env=prod --no-execute",
        "shipyard stacks deploy web-dev --endpoint-url http://127.0.0.1:5000 --yes --json",
    ),
    ("stacks", "events"): ("shipyard stacks events web-dev --follow",),
    ("stacks", "outputs"): (
        "shipyard stacks outputs network-dev",
        "shipyard stacks outputs network-dev --json | jq -r .VpcId",
    ),
    ("stacks", "delete"): ("shipyard stacks delete web-dev --yes",),
    ("aws", "local"): (
        "shipyard aws local --port 5000",
        "shipyard publish BUILD --to ec2 --endpoint-url http://127.0.0.1:5000",
    ),
    ("frontend", "init"): (
        "shipyard frontend init",
        "shipyard frontend init --db postgresql://shipyard@db.internal/frontend --json",
        "shipyard frontend init --db postgresql://shipyard@db.internal/frontend --migrate-only",
    ),
    ("frontend", "token", "create"): (
        "shipyard frontend token create --description 'rack 4' --uses 20 --ttl 3600",
        "shipyard frontend token create --appliance compute --json",
        "shipyard frontend token create --kind admin --description ci",
    ),
    ("frontend", "token", "list"): (
        "shipyard frontend token list",
        "shipyard frontend token list --kind admin --json",
    ),
    ("frontend", "token", "revoke"): (
        "shipyard frontend token revoke 3",
        "shipyard frontend token revoke 2 --kind admin",
    ),
    ("frontend", "token", "rotate"): (
        "shipyard frontend token rotate 1",
        "shipyard frontend token rotate 1 --kind admin --json",
    ),
    ("frontend", "serve"): (
        "shipyard frontend serve",
        "shipyard frontend serve --listen 0.0.0.0:8470 --tls-cert frontend.crt "
        "--tls-key frontend.key",
        "shipyard frontend serve --identity-account 123456789012 --confirm-instances",
    ),
    ("frontend", "launch"): (
        "shipyard frontend launch --appliance compute --count 4 --ami ami-0abc --instance-type "
        "t3.small --master https://10.0.0.5:8470 --tls-cert frontend.crt",
        "shipyard frontend launch --appliance compute --count 2 --asg compute-hosts",
    ),
    ("stack",): (
        "shipyard stack list host",
        "shipyard stack list host --json",
        "shipyard stack add host compute-0-0 appliance=compute rack=0 rank=0",
        "shipyard stack set host attr compute-0-0 attr=ntp value=10.0.0.1",
        "shipyard stack set appliance profile compute file=examples/profile.yml",
        "shipyard stack list host --help",
    ),
    ("catalog", "add"): (
        "shipyard catalog add builds/20261203-091502-a1b2c3 --store ./catalog",
        "shipyard catalog add BUILD --channel stable --store s3://my-catalog/images",
    ),
    ("catalog", "resolve"): (
        "shipyard catalog resolve flavour=minimal region=us-east-1",
        "shipyard catalog resolve release=bookworm arch=amd64 channel=stable --json",
    ),
    ("catalog", "list"): (
        "shipyard catalog list",
        "shipyard catalog list ftype=qcow2 'version~^2026' flavour!=big",
    ),
    ("catalog", "show"): (
        "shipyard catalog show 20261203.1",
        "shipyard catalog show 20261203.1 --json "
        "--product org.shipyard.images:debian:bookworm:amd64:minimal",
    ),
    ("catalog", "deprecate"): (
        "shipyard catalog deprecate 20261101.1",
        "shipyard catalog deprecate 20261101.1 --undo",
    ),
    ("catalog", "promote"): ("shipyard catalog promote 20261203.1 --channel stable",),
    ("catalog", "prune"): (
        "shipyard catalog prune --keep 3 --dry-run",
        "shipyard catalog prune --keep 3 --older-than 30 --json",
    ),
    ("catalog", "serve"): (
        "shipyard catalog serve --store ./catalog",
        "shipyard catalog serve --listen 0.0.0.0:8780 --admin-token-file admin.token",
    ),
    ("catalog", "pull"): (
        "shipyard catalog pull http://127.0.0.1:8780 flavour=minimal -o images/",
        "shipyard catalog pull https://images.example.com release=bookworm ftype=qcow2 -o .",
    ),
    ("catalog", "key"): ("shipyard catalog key", "shipyard catalog key --keyring ~/keys"),
    ("catalog", "watch"): (
        "shipyard catalog watch manifests/ --once",
        "shipyard catalog watch manifests/ --interval 3600 --keep 5 -o builds",
    ),
    ("completion",): (
        "source <(shipyard completion bash)",
        "shipyard completion zsh > ~/.zfunc/_shipyard",
        "shipyard completion fish > ~/.config/fish/completions/shipyard.fish",
    ),
    ("help",): ("shipyard help publish", "shipyard help frontend token create"),
}


def epilog(path: tuple[str, ...]) -> str | None:
    """The examples section of a command's --help, or None when it has none."""
    examples = EXAMPLES.get(path)
    if not examples:
        return None
    return "examples:\n" + "".join(f"  {line}\n" for line in examples)
