"""Stacki's command grammar (`stack VERB OBJECT [NAME...] key=value...`) over the admin API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from shipyard.errors import FrontendError, UsageError
from shipyard.frontend.client import FrontendClient


@dataclass(frozen=True)
class Call:
    """One parsed command line: positional names and key=value parameters."""

    names: list[str]
    params: dict[str, str]
    cwd: Path = field(default_factory=Path.cwd)

    def one_name(self, what: str) -> str:
        if len(self.names) != 1:
            raise UsageError(f"expected exactly one {what} name, got {len(self.names)}")
        return self.names[0]

    def need(self, key: str) -> str:
        if key not in self.params:
            raise UsageError(f"missing parameter {key}=")
        return self.params[key]


@dataclass(frozen=True)
class Rows:
    """A list command's answer: its columns, even when no row matched."""

    columns: tuple[str, ...]
    rows: list[dict[str, Any]]

    def values(self) -> list[list[Any]]:
        return [[row.get(c) for c in self.columns] for row in self.rows]


Handler = Callable[[FrontendClient, Call], Any]


@dataclass(frozen=True)
class Command:
    handler: Handler
    params: frozenset[str]
    usage: str


def _q(name: str) -> str:
    return quote(name, safe="")


def _bool(value: str) -> bool:
    if value.lower() in ("true", "yes", "on", "1"):
        return True
    if value.lower() in ("false", "no", "off", "0"):
        return False
    raise UsageError(f"{value!r} is not true or false")


def _int(call: Call, key: str) -> int | None:
    if key not in call.params:
        return None
    try:
        return int(call.params[key])
    except ValueError:
        raise UsageError(f"{key}={call.params[key]} is not a number") from None


HOST_COLUMNS = (
    "host", "rack", "rank", "appliance", "state", "instance_id", "ip", "mac", "message", "updated",
)  # fmt: skip


def _only_named(kind: str, wanted: list[str], known: set[str]) -> None:
    """Stacki's rule: naming something that does not exist is an error, not an empty list."""
    missing = [name for name in wanted if name not in known]
    if missing:
        raise FrontendError(f"no {kind} named {missing[0]!r}", hint=f"stack list {kind}")


def list_host(client: FrontendClient, call: Call) -> Rows:
    rows = client.get("/api/v1/hosts")
    _only_named("host", call.names, {h["name"] for h in rows})
    wanted = set(call.names)
    found = [
        {
            "host": h["name"],
            "rack": h["rack"],
            "rank": h["rank"],
            "appliance": h["appliance"],
            "state": h["state"],
            "instance_id": h["instance_id"],
            "ip": ",".join(h["ips"]),
            "mac": ",".join(h["macs"]),
            "message": h["message"].splitlines()[0] if h["message"] else "",
            "updated": h["updated"],
        }
        for h in rows
        if not wanted or h["name"] in wanted
    ]
    return Rows(HOST_COLUMNS, found)


def add_host(client: FrontendClient, call: Call) -> None:
    body: dict[str, Any] = {"name": call.one_name("host")}
    body["appliance"] = call.params.get("appliance", "backend")
    for key in ("rack", "rank"):
        if (number := _int(call, key)) is not None:
            body[key] = number
    if "instance_id" in call.params:
        body["instance_id"] = call.params["instance_id"]
    if "mac" in call.params:
        body["macs"] = call.params["mac"].split(",")
    if "ip" in call.params:
        body["ips"] = call.params["ip"].split(",")
    client.post("/api/v1/hosts", body)


def remove_host(client: FrontendClient, call: Call) -> None:
    if not call.names:
        raise UsageError("name at least one host to remove")
    for name in call.names:
        client.delete(f"/api/v1/hosts/{_q(name)}")


def set_host_reinstall(client: FrontendClient, call: Call) -> None:
    """Back to expected with its tokens revoked: the host may join exactly once more."""
    if not call.names:
        raise UsageError("name at least one host to reinstall")
    for name in call.names:
        client.post(f"/api/v1/hosts/{_q(name)}/reset", {})


def set_host_attr(client: FrontendClient, call: Call) -> None:
    body = {"value": call.need("value"), "shadow": _bool(call.params.get("shadow", "false"))}
    attr = call.need("attr")
    for name in call.names or [call.one_name("host")]:
        client.put(f"/api/v1/hosts/{_q(name)}/attributes/{_q(attr)}", body)


def remove_host_attr(client: FrontendClient, call: Call) -> None:
    attr = call.need("attr")
    client.delete(f"/api/v1/hosts/{_q(call.one_name('host'))}/attributes/{_q(attr)}")


def list_host_attr(client: FrontendClient, call: Call) -> Rows:
    rows: list[dict[str, Any]] = []
    for name in call.names or [h["host"] for h in list_host(client, call).rows]:
        for a in client.get(f"/api/v1/hosts/{_q(name)}/attributes"):
            if "attr" not in call.params or a["attr"] == call.params["attr"]:
                rows.append(
                    {"host": name, "scope": a["scope"], "attr": a["attr"], "value": a["value"]}
                )
    return Rows(("host", "scope", "attr", "value"), rows)


def set_attr(client: FrontendClient, call: Call) -> None:
    body = {"value": call.need("value"), "shadow": _bool(call.params.get("shadow", "false"))}
    client.put(f"/api/v1/attributes/{_q(call.need('attr'))}", body)


def remove_attr(client: FrontendClient, call: Call) -> None:
    client.delete(f"/api/v1/attributes/{_q(call.need('attr'))}")


def list_attr(client: FrontendClient, call: Call) -> Rows:
    return Rows(
        ("scope", "attr", "value"),
        [
            {"scope": "global", "attr": a["attr"], "value": a["value"]}
            for a in client.get("/api/v1/attributes")
        ],
    )


def list_appliance(client: FrontendClient, call: Call) -> Rows:
    appliances = client.get("/api/v1/appliances")
    _only_named("appliance", call.names, {a["name"] for a in appliances})
    wanted = set(call.names)
    found = [
        {
            "appliance": a["name"],
            "description": a["description"],
            "hosts": a["hosts"],
            "packages": len(a["profile"].get("packages") or []),
        }
        for a in appliances
        if not wanted or a["name"] in wanted
    ]
    return Rows(("appliance", "description", "hosts", "packages"), found)


def add_appliance(client: FrontendClient, call: Call) -> None:
    body = {"name": call.one_name("appliance"), "description": call.params.get("description", "")}
    client.post("/api/v1/appliances", body)


def remove_appliance(client: FrontendClient, call: Call) -> None:
    client.delete(f"/api/v1/appliances/{_q(call.one_name('appliance'))}")


def set_appliance_profile(client: FrontendClient, call: Call) -> None:
    from shipyard.frontend.profile_file import load_profile

    profile = load_profile(call.cwd / call.need("file"))
    client.put(f"/api/v1/appliances/{_q(call.one_name('appliance'))}/profile", profile)


def set_appliance_attr(client: FrontendClient, call: Call) -> None:
    body = {"value": call.need("value"), "shadow": _bool(call.params.get("shadow", "false"))}
    name, attr = call.one_name("appliance"), call.need("attr")
    client.put(f"/api/v1/appliances/{_q(name)}/attributes/{_q(attr)}", body)


def list_appliance_attr(client: FrontendClient, call: Call) -> Rows:
    name = call.one_name("appliance")
    return Rows(
        ("appliance", "scope", "attr", "value"),
        [
            {"appliance": name, "scope": a["scope"], "attr": a["attr"], "value": a["value"]}
            for a in client.get(f"/api/v1/appliances/{_q(name)}/attributes")
        ],
    )


def list_host_profile(client: FrontendClient, call: Call) -> Any:
    return client.get(f"/api/v1/hosts/{_q(call.one_name('host'))}/profile")


def report_host(client: FrontendClient, call: Call) -> str:
    text: str = client.get("/api/v1/report/hosts")
    return text


def _c(handler: Handler, usage: str, *params: str) -> Command:
    return Command(handler, frozenset(params), usage)


COMMANDS: dict[tuple[str, ...], Command] = {
    ("list", "host"): _c(list_host, "list host [NAME...]"),
    ("add", "host"): _c(
        add_host,
        "add host NAME appliance=A rack=R rank=N [instance_id=I] [mac=M] [ip=IP]",
        "appliance",
        "rack",
        "rank",
        "instance_id",
        "mac",
        "ip",
    ),
    ("remove", "host"): _c(remove_host, "remove host NAME..."),
    ("set", "host", "reinstall"): _c(set_host_reinstall, "set host reinstall NAME..."),
    ("set", "host", "attr"): _c(
        set_host_attr, "set host attr NAME attr=K value=V [shadow=true]", "attr", "value", "shadow"
    ),
    ("remove", "host", "attr"): _c(remove_host_attr, "remove host attr NAME attr=K", "attr"),
    ("list", "host", "attr"): _c(list_host_attr, "list host attr [NAME...] [attr=K]", "attr"),
    ("list", "host", "profile"): _c(list_host_profile, "list host profile NAME"),
    ("set", "attr"): _c(
        set_attr, "set attr attr=K value=V [shadow=true]", "attr", "value", "shadow"
    ),
    ("remove", "attr"): _c(remove_attr, "remove attr attr=K", "attr"),
    ("list", "attr"): _c(list_attr, "list attr"),
    ("list", "appliance"): _c(list_appliance, "list appliance [NAME...]"),
    ("add", "appliance"): _c(add_appliance, "add appliance NAME [description=D]", "description"),
    ("remove", "appliance"): _c(remove_appliance, "remove appliance NAME"),
    ("set", "appliance", "profile"): _c(
        set_appliance_profile, "set appliance profile NAME file=profile.yml", "file"
    ),
    ("set", "appliance", "attr"): _c(
        set_appliance_attr,
        "set appliance attr NAME attr=K value=V [shadow=true]",
        "attr",
        "value",
        "shadow",
    ),
    ("list", "appliance", "attr"): _c(list_appliance_attr, "list appliance attr NAME"),
    ("report", "host"): _c(report_host, "report host"),
}


HELP_WORDS = frozenset({"-h", "--help", "help"})


def usage_text(words: list[str]) -> str:
    """`stack ... --help`: the usage of the command named, or of every command."""
    words = [w for w in words if w not in HELP_WORDS]
    found = find(words)
    if found is not None:
        return f"usage: stack {found[0].usage}\n"
    return "commands:\n" + "".join(f"  stack {c.usage}\n" for c in COMMANDS.values())


def find(words: list[str]) -> tuple[Command, int] | None:
    """The longest known command at the front of ``words`` and how many words it took."""
    for length in (3, 2):
        key = tuple(w.lower() for w in words[:length])
        if key in COMMANDS:
            return COMMANDS[key], length
    return None


def parse(words: list[str]) -> tuple[Command, Call, str]:
    """Find the longest known command at the front of ``words``; returns it, its call and format."""
    found = find(words)
    if found is None:
        known = "\n  ".join(c.usage for c in COMMANDS.values())
        raise UsageError(
            f"unknown command 'stack {' '.join(words[:3])}'", hint=f"commands:\n  {known}"
        )
    command, length = found
    key = tuple(w.lower() for w in words[:length])
    names: list[str] = []
    params: dict[str, str] = {}
    for word in words[length:]:
        if word == "--json":
            params["output-format"] = "json"
        elif word.startswith("-"):
            raise UsageError(
                f"'stack {' '.join(key)}' has no option {word}", hint=f"stack {command.usage}"
            )
        elif "=" in word:
            k, _, v = word.partition("=")
            params[k.lower()] = v
        else:
            names.append(word)
    fmt = params.pop("output-format", "text")
    if fmt not in ("text", "json"):
        raise UsageError(f"output-format={fmt} is not text or json")
    unknown = sorted(set(params) - command.params)
    if unknown:
        raise UsageError(
            f"'stack {' '.join(key)}' takes no parameter {unknown[0]}=", hint=command.usage
        )
    return command, Call(names, params), fmt
