"""Read the register from YAML and report every problem at once, each with its line and field.

Operators fix the file by hand, so one run should name all mistakes, not just the first.
PyYAML's composed node tree supplies the line numbers and shows duplicate keys, which plain
loading would silently merge.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from archiver.errors import RegisterError
from archiver.register.schema import CROSS_CHECK_ERROR, Register, cross_problems

Problem = tuple[int | None, str, str]
Loc = tuple[str | int, ...]

_MESSAGES = {
    "missing": "required setting '{name}' is missing",
    "int_type": "must be a whole number (got {got})",
    "int_parsing": "must be a whole number (got {got})",
    "int_from_float": "must be a whole number (got {got})",
    "float_type": "must be a number (got {got})",
    "float_parsing": "must be a number (got {got})",
    "bool_type": "must be true or false (got {got})",
    "bool_parsing": "must be true or false (got {got})",
    "string_type": "must be text (got {got}); put it in quotes if it looks like a number, date or true/false",
    "greater_than_equal": "must be at least {ge} (got {got})",
    "less_than_equal": "must be at most {le} (got {got})",
    "greater_than": "must be more than {gt} (got {got})",
    "less_than": "must be less than {lt} (got {got})",
    "literal_error": "must be one of {expected} (got {got})",
    "model_type": "must be a group of 'key: value' settings",
    "model_attributes_type": "must be a group of 'key: value' settings",
    "dict_type": "must be a group of 'key: value' settings",
    "list_type": "must be a list, each item starting with '- '",
    "invalid_key": "key {got} must be text; put it in quotes",
}


def dotted(loc: Loc) -> str:
    """('pages', 2, 'url') -> 'pages[2].url'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


class _Lines:
    """Line numbers of every key and list item, and the duplicate keys found on the way."""

    def __init__(self, root: Node):
        self._lines: dict[Loc, int] = {}
        self.duplicates: list[Problem] = []
        self._seen: set[int] = set()
        self._walk(root, ())

    def _walk(self, node: Node, loc: Loc) -> None:
        self._lines.setdefault(loc, node.start_mark.line + 1)
        if id(node) in self._seen:
            return
        self._seen.add(id(node))
        if isinstance(node, MappingNode):
            first: dict[str, int] = {}
            for key, value in node.value:
                if not isinstance(key, ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                    continue
                name, line = key.value, key.start_mark.line + 1
                if name in first:
                    message = f"key '{name}' appears twice here (first on line {first[name]}); keep only one"
                    self.duplicates.append((line, dotted(loc + (name,)), message))
                else:
                    first[name] = line
                self._lines[loc + (name,)] = line
                self._walk(value, loc + (name,))
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                self._walk(item, loc + (index,))

    def line(self, loc: Loc) -> int | None:
        """The line of `loc`, or of its nearest parent that is in the file (for missing keys)."""
        while loc not in self._lines and loc:
            loc = loc[:-1]
        return self._lines.get(loc)


def _model_at(loc: Loc) -> type[BaseModel] | None:
    model: type[BaseModel] | None = Register
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if model else None
        if field is None:
            return None
        model = _find_model(field.annotation)
    return model


def _find_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        if found := _find_model(arg):
            return found
    return None


def _unknown_key_message(loc: Loc) -> str:
    message = f"unknown key '{loc[-1]}'"
    model = _model_at(loc[:-1])
    if model is None:
        return message
    allowed = list(model.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
    if close:
        return f"{message} (did you mean '{close[0]}'?)"
    return f"{message}; allowed here: {', '.join(allowed)}"


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _message(error: dict) -> str:
    loc = tuple(error["loc"])
    if error["type"] == "extra_forbidden":
        return _unknown_key_message(loc)
    template = _MESSAGES.get(error["type"])
    if template is None:
        return error["msg"]
    name = loc[-1] if loc else "register"
    ctx = {
        key: int(value) if isinstance(value, float) and value.is_integer() else value
        for key, value in error.get("ctx", {}).items()
    }
    return template.format(name=name, got=_short(error.get("input")), **ctx)


def _cross_problems(data: dict, lines: _Lines) -> list[Problem]:
    pages = data.get("pages")
    if not isinstance(pages, list):
        return []
    entries = [page if isinstance(page, dict) else {} for page in pages]
    capture = data.get("capture")
    allow = isinstance(capture, dict) and capture.get("allow_private_networks") is True
    found = cross_problems(
        [entry.get("id") for entry in entries],
        [entry.get("url") for entry in entries],
        allow,
        first_used=lambda index: f"on line {lines.line(('pages', index, 'id'))}",
    )
    return [(lines.line(("pages", i, field)), f"pages[{i}].{field}", message) for i, field, message in found]


def _read(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise RegisterError(str(path), [(None, "", "file not found")]) from None
    except IsADirectoryError:
        raise RegisterError(str(path), [(None, "", "this is a directory, not a register file")]) from None
    except OSError as exc:
        raise RegisterError(str(path), [(None, "", f"cannot read the file: {exc.strerror}")]) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise RegisterError(str(path), [(line, "", "the file is not UTF-8 text; save it as UTF-8")]) from None


def _parse(path: Path, text: str) -> tuple[Node | None, Any]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(part for part in (exc.context, exc.problem) if part)
        line = mark.line + 1 if mark else None
        raise RegisterError(str(path), [(line, "", f"not valid YAML: {problem}")]) from None
    except yaml.YAMLError as exc:
        raise RegisterError(str(path), [(None, "", f"not valid YAML: {exc}")]) from None
    finally:
        loader.dispose()


def load_register(path: str | Path) -> Register:
    """Load and validate the register at `path`; raises RegisterError listing every problem."""
    path = Path(path)
    node, data = _parse(path, _read(path))
    if node is None:
        raise RegisterError(str(path), [(1, "", "the file is empty; it must list organisation and pages")])
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else "a single value"
        message = f"the top level must be 'key: value' settings (organisation, pages, ...), not {kind}"
        raise RegisterError(str(path), [(node.start_mark.line + 1, "", message)])
    lines = _Lines(node)
    problems = lines.duplicates + _cross_problems(data, lines)
    try:
        register = Register.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            if error["type"] != CROSS_CHECK_ERROR:
                loc = tuple(error["loc"])
                if error["type"] == "invalid_key":
                    loc = loc[:-1] + (str(loc[-1]),)
                problems.append((lines.line(loc), dotted(loc), _message(error)))
    if problems:
        unique = sorted(set(problems), key=lambda p: (p[0] or 0, p[1], p[2]))
        raise RegisterError(str(path), unique)
    register._source_path = path
    register._page_lines = {page.id: lines.line(("pages", index)) for index, page in enumerate(register.pages)}
    return register
