"""The deployment spec: the prompt, output schema, tools and limits the fine-tuned model will meet.

Given as `--deployment SPEC.toml` (a `[deployment]` table, or the keys at top level) or as a
`[deployment]` table in the tunelint config. Paths in it are relative to the file that holds it.
Errors name that file and the key.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tunelint.config import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# Keys the loaders add to the raw table: where it came from, what its paths are relative to.
BASE_DIR_KEY = "_base_dir"
SOURCE_KEY = "_source"


class DeploymentError(ConfigError):
    """A deployment spec that cannot be used: the message names the file and the key."""


class DeploymentSpecModel(BaseModel):
    """The keys a deployment spec may hold, as written (paths not yet read)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    system_prompt: str | None = None
    system_prompt_file: str | None = None
    user_template: str | None = None
    output_schema: str | dict[str, Any] | None = None
    tools: str | list[dict[str, Any]] | None = None
    labels: list[str] | None = None
    label_key: str | None = None
    max_seq_len: int | None = Field(None, gt=0)
    tokenizer: str | None = None
    target: str | None = None

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and not v:
            raise ValueError("is empty; leave it out to allow any output")
        return v


@dataclass(frozen=True)
class Tool:
    """One callable tool of the deployment: its name and JSON Schema for the arguments."""

    name: str
    parameters: Mapping[str, Any] | None


@dataclass(frozen=True)
class Deployment:
    """A validated deployment spec with every referenced file read."""

    source: str
    base_dir: Path
    system_prompt: str | None = None
    user_template: str | None = None
    user_pattern: re.Pattern[str] | None = None
    template_fields: tuple[str, ...] = ()
    output_schema: Mapping[str, Any] | None = None
    tools: Mapping[str, Tool] | None = None
    labels: tuple[str, ...] | None = None
    label_key: str | None = None
    max_seq_len: int | None = None
    tokenizer: str | None = None
    target: str | None = None

    def where(self, key: str) -> str:
        return f"{self.source}: deployment key '{key.replace('_', '-')}'"


def read_spec_file(path: str | Path) -> dict[str, Any]:
    """The raw deployment table of a spec file, tagged with its source and base directory."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text("utf-8"))
    except FileNotFoundError:
        raise DeploymentError(f"{p}: deployment spec not found") from None
    except IsADirectoryError:
        raise DeploymentError(f"{p}: deployment spec is a directory, expected a TOML file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DeploymentError(f"{p}: deployment spec is not valid TOML: {exc}") from None
    table = data.get("deployment", data)
    if not isinstance(table, dict):
        raise DeploymentError(f"{p}: 'deployment' must be a table")
    return {**table, BASE_DIR_KEY: str(p.resolve().parent), SOURCE_KEY: str(p)}


def from_settings(settings: Any) -> Deployment | None:
    """The deployment of a run, or None when the settings carry none."""
    raw = getattr(settings, "deployment", None)
    if not raw:
        return None
    base = getattr(settings, "base_dir", None) or Path.cwd()
    return parse(raw, default_base=Path(base))


def parse(raw: Mapping[str, Any], default_base: Path | None = None) -> Deployment:
    """Validate a raw deployment table and read the files it names."""
    data = {k.replace("-", "_"): v for k, v in raw.items()}
    base_dir = Path(data.pop(BASE_DIR_KEY, None) or default_base or Path.cwd())
    source = str(data.pop(SOURCE_KEY, None) or "the deployment settings")
    try:
        spec = DeploymentSpecModel(**data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]).replace("_", "-")
        if err["type"] == "extra_forbidden":
            known = ", ".join(f.replace("_", "-") for f in DeploymentSpecModel.model_fields)
            raise DeploymentError(f"{source}: unknown deployment key '{key}' (known: {known})") from None
        raise DeploymentError(f"{source}: deployment key '{key}': {err['msg']}") from None

    def where(key: str) -> str:
        return f"{source}: deployment key '{key}'"

    if spec.label_key is not None and spec.labels is None:
        raise DeploymentError(f"{where('label-key')}: names the JSON key holding the label, but no labels are given")
    if spec.system_prompt is not None and spec.system_prompt_file is not None:
        raise DeploymentError(f"{where('system-prompt-file')}: give system-prompt or system-prompt-file, not both")
    system_prompt = spec.system_prompt
    if spec.system_prompt_file is not None:
        system_prompt = _read_text(base_dir / spec.system_prompt_file, where("system-prompt-file"))
    pattern, fields = (None, ())
    if spec.user_template is not None:
        pattern, fields = compile_template(spec.user_template, where("user-template"))
    schema = None
    if spec.output_schema is not None:
        schema = _load_json(spec.output_schema, base_dir, where("output-schema"))
        if not isinstance(schema, dict):
            raise DeploymentError(f"{where('output-schema')}: a JSON Schema must be an object")
        _check_schema(schema, where("output-schema"))
    tools = None
    if spec.tools is not None:
        tools = parse_tools(_load_json(spec.tools, base_dir, where("tools")), where("tools"))
    tokenizer = spec.tokenizer
    if tokenizer is not None and not (tokenizer == "estimate" or tokenizer.startswith("tiktoken:")):
        path = base_dir / tokenizer
        if not path.is_file():
            raise DeploymentError(
                f"{where('tokenizer')}: {path} not found (give a local tokenizer.json, "
                "'tiktoken:<encoding>' or 'estimate')"
            )
        tokenizer = str(path)
    target = spec.target
    if target is not None:
        from tunelint.providers import resolve_profile

        if resolve_profile(target) is None:
            from tunelint.providers import profile_names

            raise DeploymentError(f"{where('target')}: unknown target '{target}' (one of: {', '.join(profile_names())})")
    return Deployment(
        source=source,
        base_dir=base_dir,
        system_prompt=system_prompt,
        user_template=spec.user_template,
        user_pattern=pattern,
        template_fields=fields,
        output_schema=schema,
        tools=tools,
        labels=tuple(spec.labels) if spec.labels is not None else None,
        label_key=spec.label_key,
        max_seq_len=spec.max_seq_len,
        tokenizer=tokenizer,
        target=target,
    )


_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def compile_template(template: str, where: str = "user-template") -> tuple[re.Pattern[str], tuple[str, ...]]:
    """A regex matching text that fits `template`, where each {name} matches any text.

    `{{` and `}}` stand for literal braces. Whitespace in the template matches any run of
    whitespace, so a re-wrapped line still fits.
    """
    parts: list[str] = []
    fields: list[str] = []
    pos = 0
    text = template.replace("{{", "\x00").replace("}}", "\x01")
    for m in _FIELD.finditer(text):
        parts.append(_literal(text[pos:m.start()]))
        name = m.group(1)
        if name in fields:
            parts.append(f"(?P={name})")
        else:
            fields.append(name)
            parts.append(f"(?P<{name}>.*?)")
        pos = m.end()
    parts.append(_literal(text[pos:]))
    stray = re.search(r"[{}]", _FIELD.sub("", text))
    if stray is not None:
        raise DeploymentError(f"{where}: unmatched '{stray.group()}' (write {{{{ or }}}} for a literal brace)")
    return re.compile(r"\s*" + "".join(parts) + r"\s*", re.DOTALL), tuple(fields)


def _literal(text: str) -> str:
    chunks = [c for c in re.split(r"(\s+)", text.replace("\x00", "{").replace("\x01", "}")) if c]
    out = []
    for i, chunk in enumerate(chunks):
        if chunk.isspace():
            # Between words whitespace is required; next to a field or the ends it may vary.
            out.append(r"\s+" if 0 < i < len(chunks) - 1 else r"\s*")
        else:
            out.append(re.escape(chunk))
    return "".join(out)


def parse_tools(data: Any, where: str) -> dict[str, Tool]:
    """OpenAI-style tool definitions ({"type": "function", "function": {...}}, bare function
    objects, or {"tools": [...]}) keyed by name."""
    if isinstance(data, dict) and isinstance(data.get("tools"), list):
        data = data["tools"]
    if not isinstance(data, list):
        raise DeploymentError(f"{where}: expected a list of tool definitions")
    tools: dict[str, Tool] = {}
    for i, item in enumerate(data):
        fn = item.get("function", item) if isinstance(item, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            raise DeploymentError(f"{where}: tool {i} has no function name")
        params = fn.get("parameters")
        if params is not None:
            if not isinstance(params, dict):
                raise DeploymentError(f"{where}: tool '{fn['name']}': parameters must be a JSON Schema object")
            _check_schema(params, f"{where}: tool '{fn['name']}' parameters")
        if fn["name"] in tools:
            raise DeploymentError(f"{where}: tool '{fn['name']}' is defined twice")
        tools[fn["name"]] = Tool(fn["name"], params)
    return tools


def _read_text(path: Path, where: str) -> str:
    try:
        return path.read_text("utf-8")
    except FileNotFoundError:
        raise DeploymentError(f"{where}: {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DeploymentError(f"{where}: cannot read {path}: {exc}") from None


def _load_json(value: Any, base_dir: Path, where: str) -> Any:
    if not isinstance(value, str):
        return value
    path = base_dir / value
    text = _read_text(path, where)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DeploymentError(f"{where}: {path} is not valid JSON: {exc}") from None


def _check_schema(schema: Mapping[str, Any], where: str) -> None:
    from jsonschema import exceptions, validators

    cls = validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except exceptions.SchemaError as exc:
        path = "/".join(str(p) for p in exc.path)
        raise DeploymentError(f"{where}: not a valid JSON Schema at '/{path}': {exc.message}") from None
