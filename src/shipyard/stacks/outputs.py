"""A stack's outputs computed from its template and resources, for endpoints that do not
report them: the moto server never fills in the outputs of a stack made by a change set.

Only what the resources and parameters determine is computed (Ref, Fn::Join, Fn::If,
Fn::Select, Fn::Split, Fn::Sub of names); an output needing a resource attribute
(Fn::GetAtt) is left out and named, so nothing is guessed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any


class Unknown(Exception):
    """The value needs something the endpoint does not tell (a resource attribute)."""


def compute_outputs(
    template: Mapping[str, Any],
    physical_ids: Mapping[str, str],
    parameters: Mapping[str, str],
    pseudo: Mapping[str, str],
) -> tuple[dict[str, str], list[str]]:
    """(outputs that could be computed, names of those that could not)."""
    defaults = {
        name: str(p.get("Default", ""))
        for name, p in (template.get("Parameters") or {}).items()
        if isinstance(p, dict)
    }
    names = {**defaults, **parameters, **pseudo, **physical_ids}
    conditions = template.get("Conditions") or {}
    evaluator = _Evaluator(names, conditions)
    computed: dict[str, str] = {}
    missing: list[str] = []
    for key, output in (template.get("Outputs") or {}).items():
        if not isinstance(output, dict):
            continue
        if "Condition" in output and not evaluator.condition(output["Condition"]):
            continue
        try:
            computed[str(key)] = evaluator.text(output.get("Value"))
        except Unknown:
            missing.append(str(key))
    return computed, missing


class _Evaluator:
    def __init__(self, names: Mapping[str, str], conditions: Mapping[str, Any]) -> None:
        self.names = names
        self.conditions = conditions

    def condition(self, name: str) -> bool:
        return bool(self.value(self.conditions.get(name, False)))

    def text(self, value: Any) -> str:
        result = self.value(value)
        return ",".join(result) if isinstance(result, list) else str(result)

    def value(self, value: Any) -> Any:
        if isinstance(value, (str, int, float, bool)):
            return value
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if not isinstance(value, dict) or len(value) != 1:
            raise Unknown
        ((fn, arg),) = value.items()
        if fn == "Ref":
            if arg not in self.names:
                raise Unknown
            return self.names[arg]
        if fn == "Condition":
            return self.condition(arg)
        if fn == "Fn::Join":
            items = self.value(arg[1])
            return str(arg[0]).join(str(i) for i in (items if isinstance(items, list) else [items]))
        if fn == "Fn::If":
            return self.value(arg[1] if self.condition(arg[0]) else arg[2])
        if fn == "Fn::Equals":
            return str(self.value(arg[0])) == str(self.value(arg[1]))
        if fn == "Fn::Not":
            return not self.value(arg[0])
        if fn == "Fn::And":
            return all(self.value(a) for a in arg)
        if fn == "Fn::Or":
            return any(self.value(a) for a in arg)
        if fn == "Fn::Select":
            items = self.value(arg[1])
            return items[int(self.value(arg[0]))]
        if fn == "Fn::Split":
            return str(self.value(arg[1])).split(str(arg[0]))
        if fn == "Fn::Sub" and isinstance(arg, str):
            return re.sub(r"\$\{([^}!.]+)\}", lambda m: str(self.value({"Ref": m.group(1)})), arg)
        raise Unknown
