"""A stack's template as text: a recipe rendered by troposphere, or the user's own file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from shipyard.errors import StackFileError
from shipyard.stacks import recipes
from shipyard.stacks.model import StackDefinition

if TYPE_CHECKING:
    from troposphere import Template

Format = Literal["yaml", "json"]
# A parameter CloudFormation fills from SSM at each deploy: a channel's current AMI.
SSM_IMAGE_TYPE = "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"


@dataclass(frozen=True)
class RenderedTemplate:
    body: str
    display: str  # how findings name it: the user's file, or `recipe NAME`
    parameters: frozenset[str]  # the template's parameter names


def template_path(definition: StackDefinition) -> Path:
    """The user template a stack file names, relative to the stack file's folder."""
    assert definition.spec.template is not None
    path = Path(definition.spec.template)
    if not path.is_absolute() and definition.path is not None:
        path = definition.path.parent / path
    return path


def render(definition: StackDefinition, fmt: Format = "yaml") -> RenderedTemplate:
    spec = definition.spec
    if spec.recipe is not None:
        template = recipes.get(spec.recipe).build()
        image = spec.image
        if image is not None and image.follow == "ssm" and image.parameter in template.parameters:
            template.parameters[image.parameter].Type = SSM_IMAGE_TYPE
        body = template.to_json() if fmt == "json" else template_yaml(template)
        return RenderedTemplate(body, f"recipe {spec.recipe}", frozenset(template.parameters))
    path = template_path(definition)
    return read_template(path)


def read_template(path: Path) -> RenderedTemplate:
    """A template file as it is; StackFileError when it is not a readable template."""
    import yaml

    try:
        body = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StackFileError(f"{path}: no such template file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StackFileError(f"{path}: cannot be read as a template ({exc})") from None
    try:
        from cfnlint.decode import cfn_yaml

        data = cfn_yaml.loads(body, str(path))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "malformed YAML"
        raise StackFileError(f"{path}{line}: YAML syntax error: {problem}") from None
    except Exception as exc:  # cfn-lint's decoder raises its own match-carrying errors
        raise StackFileError(f"{path}: is not a CloudFormation template ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        raise StackFileError(f"{path}: is not a CloudFormation template (no Resources mapping)")
    params = data.get("Parameters") or {}
    return RenderedTemplate(body, str(path), frozenset(params if isinstance(params, dict) else ()))


def template_yaml(template: Template) -> str:
    """The template as YAML with short-form functions (``!Ref``, ``!Sub``), as people write it.

    Where a function's argument is another function (``Fn::Base64`` of a ``!Sub``), the
    outer one is written in long form, as the CloudFormation guide does: a YAML node has
    one tag, and some implementations cannot read a tag on a mapping (``!Base64 {...}``).
    """
    import yaml
    from cfn_flip import load_json
    from cfn_flip.yaml_dumper import TAG_MAP, Dumper, map_representer
    from cfn_tools._config import config
    from cfn_tools.odict import ODict

    class _Dumper(Dumper):  # type: ignore[misc]
        pass

    def represent(dumper: Any, value: Any) -> Any:
        items = list(value.items())
        if len(items) == 1 and items[0][0].startswith("Fn::") and isinstance(items[0][1], dict):
            return dumper.represent_mapping(TAG_MAP, ODict(items), flow_style=False)
        return map_representer(dumper, value)

    _Dumper.add_representer(ODict, represent)
    return str(
        yaml.dump(
            load_json(template.to_json()),
            Dumper=_Dumper,
            default_flow_style=False,
            allow_unicode=True,
            width=config.max_col_width,
        )
    )
