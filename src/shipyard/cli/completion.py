"""`shipyard completion bash|zsh|fish`: shell completion generated from the argparse tree."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "completion",
        help="print a shell completion script",
        description="Print a completion script for SHELL, made from the commands' own options.",
    )
    parser.add_argument("shell", choices=("bash", "zsh", "fish"))
    parser.set_defaults(func=run)


def _tree() -> dict[str, list[str]]:
    """Command path ("" for the top) → the words that may follow it: verbs, then options."""
    from shipyard.cli.main import build_parser, walk

    words: dict[str, list[str]] = {}
    for path, parser in walk(build_parser()):
        verbs: list[str] = []
        options: list[str] = []
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                verbs += list(action.choices)
            else:
                options += [o for o in action.option_strings if o.startswith("--")]
        words[" ".join(path)] = verbs + sorted(set(options))
    return words


def bash_script() -> str:
    cases = "\n".join(
        f'        "{path}") words="{" ".join(ws)}" ;;' for path, ws in sorted(_tree().items())
    )
    return f"""# shipyard completion for bash (and zsh through bashcompinit)
_shipyard() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" path="" candidate w words
    for w in "${{COMP_WORDS[@]:1:COMP_CWORD-1}}"; do
        [[ $w == -* ]] && continue
        candidate="${{path:+$path }}$w"
        case "$candidate" in
{chr(10).join(f'            "{p}") path="$candidate" ;;' for p in sorted(_tree()) if p)}
        esac
    done
    case "$path" in
{cases}
    esac
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}}
complete -o default -F _shipyard shipyard
"""


def zsh_script() -> str:
    return "#compdef shipyard\nautoload -U +X bashcompinit && bashcompinit\n" + bash_script()


def fish_script() -> str:
    lines = ["# shipyard completion for fish", "complete -c shipyard -f"]
    for path, ws in sorted(_tree().items()):
        words = path.split()
        cond = (
            "__fish_use_subcommand" if not words else ("__fish_seen_subcommand_from " + words[-1])
        )
        for w in ws:
            if w.startswith("--"):
                lines.append(f"complete -c shipyard -n '{cond}' -l {w[2:]}")
            else:
                lines.append(f"complete -c shipyard -n '{cond}' -a {w}")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    script = {"bash": bash_script, "zsh": zsh_script, "fish": fish_script}[args.shell]()
    print(script, end="")
    return 0
