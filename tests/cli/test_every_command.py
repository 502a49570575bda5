"""Every command as a user meets it: its --help, and bad input answered in one sentence."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shipyard.cli.main import build_parser, walk
from shipyard.errors import EXIT_CODES

COMMANDS = sorted({path for path, _ in walk(build_parser())})


def shipyard(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SHIPYARD_"))}
    return subprocess.run(
        [sys.executable, "-m", "shipyard.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=cwd,
    )


def test_the_tree_has_every_command_group() -> None:
    from shipyard.cli.main import COMMANDS as GROUPS

    assert {path[0] for path in COMMANDS if path} == {*GROUPS, "help"}
    assert len(COMMANDS) > len(GROUPS)


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "shipyard")
def test_help_of_every_command(path: tuple[str, ...]) -> None:
    result = shipyard(*path, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: {' '.join(('shipyard', *path))}")
    assert result.stderr == ""


def _leaves() -> list[tuple[str, ...]]:
    import argparse

    return [
        path
        for path, parser in walk(build_parser())
        if path and not any(isinstance(a, argparse._SubParsersAction) for a in parser._actions)
    ]


@pytest.mark.parametrize("path", _leaves(), ids=" ".join)
def test_every_command_shows_examples_and_each_one_parses(path: tuple[str, ...]) -> None:
    import shlex

    from shipyard.cli.examples import EXAMPLES

    examples = EXAMPLES.get(path)
    assert examples, f"`shipyard {' '.join(path)} --help` shows no example"
    assert "\nexamples:\n  shipyard" in shipyard(*path, "--help").stdout or path == ("completion",)
    for line in examples:
        words = shlex.split(line.split(" | ")[0].split(" > ")[0])
        if "shipyard" not in words:
            continue
        argv = words[words.index("shipyard") + 1 :]
        try:
            build_parser(argv).parse_args(argv)  # parses only: nothing is run
        except SystemExit as exc:
            raise AssertionError(f"the example `{line}` does not parse") from exc


# (argv, exit code, start of the one error sentence)
BAD_INPUTS = [
    (["nosuch"], 2, "shipyard: error: argument COMMAND: invalid choice"),
    (["build"], 2, "shipyard build: error: the following arguments are required"),
    (["build", "{tmp}/missing.yaml"], 2, "shipyard: error:"),
    (["manifest", "validate", "{tmp}/missing.yaml"], 2, "shipyard: error:"),
    (["publish", "{tmp}", "--to", "ec2", "--concurrency", "x"], 2, "shipyard publish: error:"),
    (["publish", "{tmp}", "--to", "s3"], 2, "shipyard publish: error: argument --to"),
    (["aws", "local", "--port", "99999"], 2, "shipyard aws local: error: argument --port: 99999"),
    (["help", "nosuch"], 2, "shipyard: error: no command 'nosuch'"),
    (["run"], 2, "shipyard run: error: the following arguments are required"),
    (["frontend", "init", "--db", "mysql://x"], 1, "shipyard: error: database URL"),
    (["stacks", "render", "nosuch"], 2, "shipyard: error: no stack or recipe called 'nosuch'"),
    (["stacks", "lint", "netwrok"], 2, "shipyard: error: no stack or recipe called 'netwrok'"),
    (["stacks", "deploy", "web"], 1, "shipyard: error: --region: no AWS region given"),
    (["stacks", "nosuch"], 2, "shipyard stacks: error: no verb 'nosuch'"),
]


@pytest.mark.parametrize(("argv", "code", "start"), BAD_INPUTS, ids=lambda v: str(v)[:40])
def test_bad_input_is_one_sentence_with_a_documented_code(
    argv: list[str], code: int, start: str, tmp_path: Path
) -> None:
    result = shipyard(*(a.replace("{tmp}", str(tmp_path)) for a in argv), cwd=tmp_path)
    assert code in EXIT_CODES
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if ": error:" in line]
    assert len(errors) == 1 and errors[0].startswith(start), result.stderr


# Hostile manifests through `shipyard manifest validate`: (case, manifest text, exit code,
# start of the one error sentence, text that must not appear anywhere in the output).
HOSTILE_MANIFESTS = [
    (
        "extends a host secret",
        "name: x\nextends: /etc/shadow\n",
        2,
        "shipyard: error: /etc/shadow",
        "root:",
    ),
    (
        "source outside the folder",
        "provision:\n  - script: ../../../../../../../../etc/shadow\n",
        2,
        "shipyard: error: m.yml:2: provision.0.script: ../../../../../../../../etc/shadow is "
        "outside the manifest's folder",
        "root:",
    ),
    (
        "alias bomb",
        "name: x\nx-0: &l0 [a, b, c, d, e, f, g, h, i]\n"
        + "".join(f"x-{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]\n" for n in range(1, 7)),
        2,
        "shipyard: error: m.yml:6: x-4.0: aliases expand to more than 10000 values",
        "Traceback",
    ),
    (
        "recursive anchor",
        "name: x\nx: &a [*a]\n",
        2,
        "shipyard: error: m.yml:2: x.0: an alias refers to the anchor that contains it",
        "RecursionError",
    ),
    (
        "deep nesting",
        "name: x\ndescription: " + "[" * 5000 + "]" * 5000 + "\n",
        2,
        "shipyard: error: m.yml: values nest deeper than 50 levels",
        "RecursionError",
    ),
]


@pytest.mark.parametrize(
    ("text", "code", "start", "never"),
    [case[1:] for case in HOSTILE_MANIFESTS],
    ids=[case[0] for case in HOSTILE_MANIFESTS],
)
def test_hostile_manifest_is_one_sentence(
    text: str, code: int, start: str, never: str, tmp_path: Path
) -> None:
    (tmp_path / "m.yml").write_text(text)
    result = shipyard("manifest", "validate", "m.yml", cwd=tmp_path)
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    assert never not in result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if ": error:" in line]
    assert len(errors) == 1 and errors[0].startswith(start), result.stderr


def test_a_profile_script_named_dot_dot_is_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "p.yml").write_text("scripts:\n  - name: '..'\n    content: x\n")
    result = shipyard(
        "stack", "--token", "x", "--frontend", "http://127.0.0.1:9",
        "set", "appliance", "profile", "backend", "file=p.yml",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().endswith(
        "scripts.0.name: '..' is not a plain file name (letters, digits, _ . -, not starting "
        "with a dot)"
    )
    assert result.stderr.count("\n") == 1


def test_a_port_already_taken_is_exit_3_before_anything_says_listening() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = shipyard("aws", "local", "--port", str(port))
    assert result.returncode == 3, result.stderr
    assert result.stderr.splitlines()[0] == (
        f"shipyard: error: cannot listen on 127.0.0.1:{port}: address already in use"
    )
    assert "endpoint on" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("flags", [["--debug"], ["-v"], ["--verbose"]])
def test_global_flags_work_after_the_command(flags: list[str]) -> None:
    before = build_parser(["manifest"]).parse_args([*flags, "manifest", "schema"])
    after = build_parser(["manifest"]).parse_args(["manifest", "schema", *flags])
    neither = build_parser(["manifest"]).parse_args(["manifest", "schema"])
    assert (before.debug, before.verbose) == (after.debug, after.verbose)
    assert (neither.debug, neither.verbose) == (False, False)


def test_help_command_shows_the_same_text_as_dash_dash_help() -> None:
    for path in [("frontend",), ("aws", "local"), ()]:
        assert shipyard("help", *path).stdout == shipyard(*path, "--help").stdout
