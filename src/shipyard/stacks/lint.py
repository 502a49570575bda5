"""cfn-lint as a library: findings as ``FILE:LINE: rule: message``."""

from __future__ import annotations

from dataclasses import dataclass

from shipyard.stacks.render import RenderedTemplate

DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    rule: str  # E3002, W2001, ...
    level: str  # error, warning, informational
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.rule}: {self.message}"

    @property
    def is_error(self) -> bool:
        return self.level == "error"


def lint(template: RenderedTemplate, region: str | None = None) -> list[Finding]:
    """Every finding of cfn-lint on ``template`` for ``region``, in line order."""
    from cfnlint.api import ManualArgs
    from cfnlint.api import lint as cfn_lint

    matches = cfn_lint(template.body, config=ManualArgs(regions=[region or DEFAULT_REGION]))
    findings = {
        Finding(template.display, int(m.linenumber), m.rule.id, str(m.rule.severity), m.message)
        for m in matches
    }
    return sorted(findings, key=lambda f: (f.line, f.rule, f.message))
