"""Reads the settings: cdk.json's `mlops` context, `-c` overrides and release files, validated once.

Overrides: any context key starting with ``mlops.`` replaces one value, e.g.
``-c mlops.environments.prod.account=123456789012`` or
``-c mlops.environments.dev.rollout.type=LINEAR``. Values are parsed as JSON when they
look like JSON (numbers, true/false, lists), otherwise taken as strings.

Another layout: `-c mlops-settings=<file>` names a JSON file shaped like cdk.json (the repository's
`cdk.sandbox.json`, the one-account sandbox): each top-level key of its `context.mlops` replaces
cdk.json's key of that name, the others come from cdk.json; `mlops.` overrides and releases apply
on top, and the same validation runs.

Whatever is wrong, loading raises one ConfigError whose single line names the key, the value
and what is allowed: pydantic's ValidationError is turned into that line here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from config.app_config import AppConfig
from config.environment import EnvironmentConfig
from config.errors import CONTEXT_KEY, SETTINGS_FILE_KEY, ConfigError, _fail, shown
from config.fields import ENV_NAME, PACKAGE_ARN
from config.model_build import _model_build
from config.reader import _Reader
from config.release import Release
from config.schema import unknown_key

_ROOT = Path(__file__).resolve().parent.parent
RELEASES_DIR = _ROOT / "releases"
CDK_JSON = _ROOT / "cdk.json"

# A settings file is named relative to the repository root, as the pipeline's build checks it out.
_SETTINGS_FILE = re.compile(r"^(?!/)(?!.*\.\.)[A-Za-z0-9_./-]+\.json$")

_Model = TypeVar("_Model", bound=BaseModel)
# Pydantic's own errors that mean "this should have been an object".
_NOT_AN_OBJECT = {"model_type", "model_attributes_type", "dict_type", "dataclass_type"}


def _config_error(error: ValidationError, prefix: str) -> ConfigError:
    """The first of pydantic's errors as one line: the dotted key, the value, what is allowed."""
    first = error.errors(include_url=False)[0]
    ctx = first.get("ctx") or {}
    path = ".".join([prefix, *(str(part) for part in first["loc"]), *([ctx["key"]] if ctx.get("key") else [])])
    kind = first["type"]
    if kind == "unknown_key":
        return _unknown(path, ctx)
    if kind == "missing":
        return ConfigError(f"Missing config '{path}'.")
    got = ctx.get("got") or shown(ctx["value"] if "value" in ctx else first["input"])
    allowed = ctx.get("allowed") or ("an object" if kind in _NOT_AN_OBJECT else first["msg"].lower())
    return ConfigError(f"Invalid config '{path}': got {got}; allowed: {allowed}.")


def _unknown(path: str, ctx: Mapping[str, Any]) -> ConfigError:
    hint = f"did you mean '{ctx['close']}'? " if ctx["close"] else ""
    return ConfigError(f"Unknown config '{path}': {hint}allowed: {ctx['known']}.")


def _validated(model: type[_Model], data: Any, prefix: str, context: dict[str, Any] | None = None) -> _Model:
    try:
        return model.model_validate(data, context=context)
    except ValidationError as error:
        raise _config_error(error, prefix) from None


def _parse_override(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def apply_overrides(base: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """Returns `base` with every `mlops.a.b.c` context key applied as a single-value override."""
    merged: dict[str, Any] = json.loads(json.dumps(base))
    prefix = CONTEXT_KEY + "."
    for dotted, value in sorted(context.items()):
        if not dotted.startswith(prefix):
            continue
        parts = dotted[len(prefix) :].split(".")
        node = merged
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise _fail(dotted, value, f"a path through objects, but '{part}' is not an object")
        # A string setting stays a string ("-c ...account=123456789012" is not a number).
        keep_string = isinstance(node.get(parts[-1]), str)
        node[parts[-1]] = value if keep_string else _parse_override(value)
    return merged


def settings_source(context: Mapping[str, Any]) -> str:
    """Where the settings come from: the file `-c mlops-settings=<file>` names, or cdk.json."""
    named = context.get(SETTINGS_FILE_KEY)
    return named if isinstance(named, str) and named else "cdk.json"


def _settings_file(name: Any) -> Any:
    """The `context.mlops` of the settings file `name` (relative to the repository root)."""
    if not isinstance(name, str) or not _SETTINGS_FILE.match(name):
        raise _fail(SETTINGS_FILE_KEY, name, "a .json file in this repository, e.g. cdk.sandbox.json")
    path = _ROOT / name
    try:
        document = json.loads(path.read_text())
    except OSError:
        raise _fail(SETTINGS_FILE_KEY, name, "a .json file in this repository, e.g. cdk.sandbox.json") from None
    except json.JSONDecodeError as error:
        raise ConfigError(f"Invalid settings file '{name}': {error}.") from None
    settings = document.get("context", {}).get(CONTEXT_KEY) if isinstance(document, dict) else None
    if settings is None:
        raise ConfigError(f"Missing config: settings file '{name}' has no 'context.{CONTEXT_KEY}'.")
    return settings


def load(context: Mapping[str, Any], releases_dir: Path = RELEASES_DIR) -> AppConfig:
    """Builds the validated config from CDK context (cdk.json, a settings file over it, `-c` overrides)."""
    raw = _settings(context)
    envs_raw = raw["environments"]
    releases = _context_releases(context, envs_raw)
    environments = tuple(_environment(name, envs_raw[name], releases.get(name), releases_dir) for name in envs_raw)
    model_build = _model_build(_Reader(raw, CONTEXT_KEY).child("model_build"), tuple(envs_raw))
    settings_file = context.get(SETTINGS_FILE_KEY)
    settings = _validated(
        AppConfig,
        {**raw, "model_build": model_build, "environments": environments, "settings_file": settings_file},
        CONTEXT_KEY,
    )
    for env in settings.environments:
        if env.release:
            source = (
                f"release.{env.name}" if releases.get(env.name) else f"{releases_dir / env.name}.json.model_package_arn"
            )
            _check_release(source, env.release, settings)
    return settings


def _settings(context: Mapping[str, Any]) -> Mapping[str, Any]:
    """The `mlops` settings as written: cdk.json's, a settings file's sections over them, `-c` overrides
    last; refused when not an object of known sections with at least one environment."""
    raw = context.get(CONTEXT_KEY)
    if isinstance(raw, str):
        raw = _parse_override(raw)
    if raw is None:
        raise ConfigError(f"Missing config: cdk.json has no '{CONTEXT_KEY}' context.")
    settings_file = context.get(SETTINGS_FILE_KEY)
    if settings_file is not None and isinstance(raw, Mapping):
        layout = _settings_file(settings_file)
        if not isinstance(layout, Mapping):
            raise _fail(f"{settings_file}: context.{CONTEXT_KEY}", layout, "an object")
        raw = {**raw, **layout}
    raw = apply_overrides(raw, context) if isinstance(raw, Mapping) else raw
    if not isinstance(raw, Mapping):
        raise _fail(CONTEXT_KEY, raw, "an object")
    # A misspelt section would otherwise surface as the right section's missing keys.
    unknown = unknown_key(raw, AppConfig.input_keys())
    if unknown:
        ctx = unknown.context or {}
        raise _unknown(f"{CONTEXT_KEY}.{ctx['key']}", ctx)
    if "environments" not in raw:
        raise ConfigError(f"Missing config '{CONTEXT_KEY}.environments'.")
    envs_raw = raw["environments"]
    if not isinstance(envs_raw, Mapping) or not envs_raw:
        raise _fail(f"{CONTEXT_KEY}.environments", envs_raw, "at least one environment, e.g. dev, staging, prod")
    return raw


def _context_releases(context: Mapping[str, Any], environments: Mapping[str, Any]) -> dict[str, Any]:
    """`-c release.<env>=<arn>` by environment; one for an environment the settings lack is refused."""
    releases = {k[len("release.") :]: v for k, v in context.items() if k.startswith("release.")}
    unknown_releases = sorted(set(releases) - set(environments))
    if unknown_releases:
        name = unknown_releases[0]
        raise _fail(f"release.{name}", releases[name], "release.<env> for: " + ", ".join(environments))
    return releases


def _environment(name: str, raw: Any, context_release: Any, releases_dir: Path) -> EnvironmentConfig:
    key = f"{CONTEXT_KEY}.environments.{name}"
    if not re.match(ENV_NAME, name):
        raise _fail(key, name, "a lower-case name of letters and digits, at most 16 characters")
    release = _release(name, context_release, releases_dir)
    return _validated(EnvironmentConfig, raw, key, context={"name": name, "release": release})


def _release(name: str, context_release: Any, releases_dir: Path) -> Release | None:
    """A release comes from `-c release.<env>=<arn>` or from releases/<env>.json (resolve-release)."""
    if context_release:
        if not isinstance(context_release, str) or not re.match(PACKAGE_ARN, context_release):
            raise _fail(f"release.{name}", context_release, "a model package version ARN")
        return Release(model_package_arn=context_release)
    path = releases_dir / f"{name}.json"
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ConfigError(f"Invalid release file '{path}': {error}.") from error
    return _validated(Release, data, str(path))


def _check_release(key: str, release: Release, settings: AppConfig) -> None:
    """A release must be a version of this project's registry group, in the model-build account and region."""
    build = settings.build_environment
    group = settings.names.model_package_group
    actual = (release.registry_region, release.registry_account, release.package_arn_pattern.split("/")[-2])
    if actual != (build.region, build.account, group):
        raise _fail(
            key,
            release.model_package_arn,
            f"a version of model package group {group!r} in account {build.account}, region {build.region} "
            f"(the model-build environment {build.name!r}): "
            f"arn:aws:sagemaker:{build.region}:{build.account}:model-package/{group}/<version>",
        )


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"the key {key!r} appears twice in one object; JSON parsers keep only the last one")
        seen[key] = value
    return seen


def read_cdk_json(path: Path = CDK_JSON) -> dict[str, Any]:
    """cdk.json's `context`, refusing what a JSON parser would silently accept: a repeated key.

    The CDK CLI keeps the last of two equal keys (as JSON.parse does), so a setting written twice
    would change without a word; app.py reads the file once more through this before synthesizing.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_refuse_duplicate_keys)
    except OSError as error:
        raise ConfigError(f"Cannot read settings file '{path}': {error.strerror or error}.") from None
    except ValueError as error:  # json.JSONDecodeError and the repeated key above
        raise ConfigError(f"Invalid settings file '{path}': {error}.") from None
    context = document.get("context") if isinstance(document, dict) else None
    if not isinstance(context, dict):
        raise ConfigError(f"Invalid settings file '{path}': it has no \"context\" object (cdk.json's shape).")
    return context


def load_cdk_json(path: Path | None = None, overrides: Mapping[str, Any] | None = None) -> AppConfig:
    """Reads cdk.json directly (for scripts and the operator CLI, which run outside `cdk`)."""
    context = read_cdk_json(path or CDK_JSON)
    context.update(overrides or {})
    return load(context)
