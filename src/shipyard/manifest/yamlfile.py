"""Read one YAML manifest file into plain data plus the line of every key and list item."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from shipyard.errors import ManifestError
from shipyard.manifest.locations import (
    KeyPath,
    Location,
    Locations,
    describe_type,
    dotted,
    error_for,
)
from shipyard.manifest.schema import Manifest

_MERGE_TAG = "tag:yaml.org,2002:merge"
_INT_TAG = "tag:yaml.org,2002:int"
_YAML_SUFFIXES = (".yml", ".yaml")
# Values that aliases may add by repeating what their anchor holds. Each level of nested
# aliases multiplies the values, so 322 bytes nested 6 deep made half a million of them
# (3.3 s, 276 MB); a real manifest repeats a few dozen.
ALIAS_BUDGET = 10_000
# A manifest nests about 5 levels; Python's recursion gives out near a few hundred.
MAX_DEPTH = 50


def read_yaml(path: Path, display: str) -> tuple[dict[str, Any], Locations]:
    """The top-level mapping of the YAML file ``path`` and where each key path sits in it.

    ``display`` is how messages name the file. Raises ManifestError for a missing or
    unreadable file, a syntax error, an empty file, a top level that is not a mapping,
    a duplicate key or a key that is not a string.

    ``extends`` can name any file, /etc/shadow too, so nothing of a file's text is
    quoted until it looks like a manifest: a top-level key of one, and for syntax errors
    a name ending in .yml or .yaml.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(f"{display}: no such manifest file") from None
    except IsADirectoryError:
        raise ManifestError(f"{display}: is a directory, not a manifest file") from None
    except UnicodeDecodeError as exc:
        raise ManifestError(
            f"{display}: is not UTF-8 text (byte {exc.start}); a manifest is a YAML file"
        ) from None
    except OSError as exc:
        raise ManifestError(f"{display}: cannot be read ({exc.strerror})") from None

    root = _compose(text, display, details=path.name.endswith(_YAML_SUFFIXES))
    if root is None:
        raise ManifestError(
            f"{display}:1: the manifest is empty; expected a mapping of keys such as "
            "name, system and packages"
        )
    if not isinstance(root, yaml.MappingNode):
        raise ManifestError(
            f"{display}:{root.start_mark.line + 1}: the top level of a manifest must be a "
            f"mapping of keys such as name, system and packages, not "
            f"{_describe_node(root)}"
        )
    if not _has_manifest_key(root):
        raise ManifestError(
            f"{display}: is not a Shipyard manifest: none of its top-level keys is one of "
            f"{', '.join(Manifest.model_fields)}"
        )
    walker = _Walker(path, display)
    data = walker.value(root, ())
    return data, walker.locations


def _has_manifest_key(root: yaml.MappingNode) -> bool:
    for key_node, _ in root.value:
        if key_node.tag == _MERGE_TAG:
            return True
        if isinstance(key_node, yaml.ScalarNode) and key_node.value in Manifest.model_fields:
            return True
    return False


def _describe_node(node: yaml.Node) -> str:
    """What ``node`` is, without building it (which could quote the file's text)."""
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    try:
        value = yaml.SafeLoader("").construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError, TypeError):
        return "a string"
    return describe_type(value)


def _compose(text: str, display: str, *, details: bool) -> yaml.Node | None:
    """The node tree of ``text``: libyaml when present (fast), PyYAML's own otherwise.

    On a syntax error the pure-Python parser runs again, so that messages read the same
    with or without libyaml. Without ``details`` a syntax error names only its line: the
    parser's words can quote the text (an undefined alias's name).
    """
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        loader = fast(text)
        try:
            node: yaml.Node | None = loader.get_single_node()
            return node
        except yaml.YAMLError:
            pass
        finally:
            loader.dispose()
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        return node
    except yaml.MarkedYAMLError as exc:
        if not details:
            mark = exc.problem_mark or exc.context_mark
            line = f":{mark.line + 1}" if mark else ""
            raise ManifestError(
                f"{display}{line}: is not a manifest: it is not valid YAML (details are shown "
                "for files named .yml or .yaml)"
            ) from None
        raise _syntax_error(display, exc) from None
    except yaml.YAMLError as exc:
        problem = f" ({_one_line(str(exc))})" if details else ""
        raise ManifestError(f"{display}: is not valid YAML{problem}") from None
    except RecursionError:
        # libyaml refuses such nesting; PyYAML's composer recurses once per level.
        raise ManifestError(
            f"{display}: values nest deeper than {MAX_DEPTH} levels; a manifest needs a few"
        ) from None
    finally:
        loader.dispose()


def _syntax_error(display: str, exc: yaml.MarkedYAMLError) -> ManifestError:
    mark = exc.problem_mark or exc.context_mark
    where = f"{display}:{mark.line + 1}:{mark.column + 1}" if mark else display
    problem = exc.problem or "malformed YAML"
    context = ""
    if exc.context and exc.context != problem:
        started = exc.context_mark
        at = (
            f" at line {started.line + 1}" if started and mark and started.line != mark.line else ""
        )
        context = f" ({exc.context}{at})"
    return ManifestError(f"{where}: YAML syntax error: {problem}{context}")


def _one_line(text: str) -> str:
    return " ".join(text.split())


class _Walker:
    """Turns composed YAML nodes into Python values, noting each key path's line."""

    def __init__(self, path: Path, display: str) -> None:
        self.path = path
        self.display = display
        self.locations: Locations = {}
        self._seen: set[int] = set()  # nodes built once: meeting one again is an alias
        self._open: set[int] = set()  # nodes being built: meeting one is a recursive alias
        self._in_alias = 0
        self._from_aliases = 0
        self._outer_alias: KeyPath = ()
        # Scalars are built by PyYAML's own safe constructor, so YAML 1.1 typing holds.
        self._constructor = yaml.SafeLoader("")

    def where(self, node: yaml.Node) -> Location:
        return Location(self.display, node.start_mark.line + 1, self.path)

    def fail(self, node: yaml.Node, path: KeyPath, problem: str) -> ManifestError:
        prefix = f"{self.where(node)}: {dotted(path)}: " if path else f"{self.where(node)}: "
        return ManifestError(prefix + problem)

    @contextlib.contextmanager
    def building(self, node: yaml.Node, path: KeyPath) -> Iterator[None]:
        """Count the values aliases add; refuse a recursive alias and an alias bomb."""
        if len(path) > MAX_DEPTH:
            raise self.fail(
                node,
                path[:1],
                f"values nest deeper than {MAX_DEPTH} levels; a manifest needs a few",
            )
        key = id(node)
        if key in self._open:
            raise self.fail(
                node,
                path,
                "an alias refers to the anchor that contains it; anchors cannot hold themselves",
            )
        repeated = key in self._seen
        if repeated and not self._in_alias:
            self._outer_alias = path
        self._in_alias += repeated
        if self._in_alias:
            self._from_aliases += 1
            if self._from_aliases > ALIAS_BUDGET:
                raise error_for(
                    self.locations,
                    self._outer_alias,
                    f"aliases expand to more than {ALIAS_BUDGET} values, far more than a "
                    "manifest needs; nest fewer aliases",
                )
        self._seen.add(key)
        self._open.add(key)
        try:
            yield
        finally:
            self._open.discard(key)
            self._in_alias -= repeated

    def value(self, node: yaml.Node, path: KeyPath) -> Any:
        with self.building(node, path):
            return self._value(node, path)

    def _value(self, node: yaml.Node, path: KeyPath) -> Any:
        self.locations.setdefault(path, self.where(node))
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                # An alias is the very node of its anchor: only its list knows where it is.
                self.locations[(*path, index)] = self.where(
                    node if id(item) in self._seen else item
                )
                items.append(self.value(item, (*path, index)))
            return items
        if path[-1:] == ("mode",) and node.tag == _INT_TAG:
            # YAML 1.1 reads 0644 as octal 420 and 644 or 999 as decimal: keep the digits.
            return node.value
        try:
            return self._constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError) as exc:
            problem = exc.problem if isinstance(exc, yaml.MarkedYAMLError) else str(exc)
            problem = f"cannot read the value {node.value!r} ({problem})"
            raise self.fail(node, path, problem) from None

    def mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        # Keys pulled in by YAML merge keys (<<: *anchor) yield to keys written here.
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                for key, value in self.merged(value_node, path).items():
                    result.setdefault(key, value)
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self.key(key_node, path)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise self.fail(
                    key_node, (*path, key), f"duplicate key (first given at line {seen[key]})"
                )
            seen[key] = line
            self.locations[(*path, key)] = self.where(key_node)
            if key in result:
                self.drop_below((*path, key))
            result[key] = self.value(value_node, (*path, key))
        return result

    def merged(self, node: yaml.Node, path: KeyPath) -> dict[str, Any]:
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        result: dict[str, Any] = {}
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                raise self.fail(source, path, "a YAML merge key (<<) must name a mapping")
            with self.building(source, path):
                items = self.mapping(source, path)
            for key, value in items.items():
                result.setdefault(key, value)
        return result

    def key(self, node: yaml.Node, path: KeyPath) -> str:
        if isinstance(node, yaml.ScalarNode):
            key = self._constructor.construct_object(node)
            if isinstance(key, str):
                return key
            raise self.fail(
                node,
                path,
                f"the key {node.value!r} is read as {describe_type(key)}, not a name; "
                f"quote it as '{node.value}' if a name is meant",
            )
        raise self.fail(node, path, "a key must be a plain name, not a list or a mapping")

    def drop_below(self, path: KeyPath) -> None:
        """Forget lines under ``path`` left by a merge key that this key replaces."""
        for known in [p for p in self.locations if len(p) > len(path) and p[: len(path)] == path]:
            del self.locations[known]
