"""Configuration: ``[tool.portlint]`` in pyproject.toml, ``.portlint.toml`` or ``.portlint.yaml``.

Found by walking up from the checked paths (the first folder holding one wins; in one folder
``.portlint.toml`` beats ``.portlint.yaml`` beats ``pyproject.toml``, which counts only with a
``[tool.portlint]`` table). Every key is checked: an unknown key or a bad value is a
:class:`ConfigError` naming the key and the file, and the run stops with exit code 2.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .discovery import open_regular, reason
from .findings import Severity
from .model import MAX_PORT, PortRange, record

CONFIG_FILES = (".portlint.toml", ".portlint.yaml", "pyproject.toml")
PROTOCOLS = ("tcp", "udp", "sctp", "dccp", "udplite")


class ConfigError(Exception):
    """A configuration file portlint cannot use."""


@record
class Allowance:
    """A port (or service) that is open on purpose: findings about it are not reported."""

    ports: PortRange
    protocol: str | None  # None: every protocol
    reason: str


@record
class SiteService:
    """An entry of a site catalog file: "8443/tcp is our admin UI"."""

    ports: PortRange
    protocol: str | None
    name: str
    description: str = ""


@dataclass
class Config:
    """The settings of a run, as the configuration file and the command line give them."""

    path: Path | None = None  # the file it came from; None for the defaults
    select: list[str] | None = None
    extend_select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    exclude: list[str] = field(default_factory=list)
    severity: dict[str, Severity] = field(default_factory=dict)
    fail_on: Severity = Severity.WARNING
    ephemeral_range: str = "iana"
    project_root: Path | None = None
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    allow: list[Allowance] = field(default_factory=list)
    catalog: list[SiteService] = field(default_factory=list)
    yaml_size_limit: int = 10  # megabytes

    @property
    def root(self) -> Path | None:
        """The folder paths in the configuration are relative to."""
        return self.path.parent if self.path else None


# -- finding and reading ----------------------------------------------------------------------

def discover(start_paths: list[str]) -> Path | None:
    """The configuration file for a run over ``start_paths``: walking up from the first one."""
    start = Path(start_paths[0] if start_paths and start_paths[0] != "-" else ".").resolve()
    folder = start if start.is_dir() else start.parent
    for candidate in (folder, *folder.parents):
        for name in CONFIG_FILES:
            path = candidate / name
            if path.is_file() and (name != "pyproject.toml" or _has_tool_table(path)):
                return path
    return None


def _has_tool_table(path: Path) -> bool:
    try:
        return "portlint" in _load_toml(path).get("tool", {})
    except ConfigError:
        return True  # let load() report what is wrong with it


def _load_toml(path: Path) -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    try:
        with open_regular(str(path)) as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {reason(exc)}") from None


def _load_yaml(path: Path) -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        with open_regular(str(path)) as fh:
            return YAML(typ="safe").load(fh.read().decode("utf-8"))
    except (OSError, UnicodeDecodeError, YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read: {reason(exc)}") from None


def read_table(path: Path) -> dict:
    """The portlint table of a configuration file (empty for an empty file)."""
    if path.name == "pyproject.toml":
        return _load_toml(path).get("tool", {}).get("portlint", {})
    data = _load_yaml(path) if path.suffix in (".yaml", ".yml") else _load_toml(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the configuration must be a mapping of keys")
    return data


def load(path: Path, rules: dict[str, type]) -> Config:
    """Read and check ``path``; ``rules`` maps rule names and codes to rule classes (for the
    rule-option and severity keys)."""
    return _Checker(path, rules).config(read_table(path))


# -- checking ---------------------------------------------------------------------------------

class _Checker:
    def __init__(self, path: Path, rules: dict[str, type]) -> None:
        self.path = path
        self.rules = rules
        self.where = "[tool.portlint]" if path.name == "pyproject.toml" else path.name

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.path}: {key}: {problem}")

    def config(self, table: dict) -> Config:
        handlers = {
            "select": self.codes, "extend-select": self.codes, "ignore": self.codes,
            "per-file-ignores": self.per_file_ignores, "exclude": self.strings,
            "severity": self.severity, "fail-on": self.one_severity,
            "ephemeral-range": self.ephemeral, "project-root": self.project_root,
            "rules": self.rule_options, "allow": self.allow, "catalog": self.catalog,
            "yaml-size-limit": self.megabytes,
        }
        values: dict[str, Any] = {}
        for key, value in table.items():
            if key not in handlers:
                raise ConfigError(f"{self.path}: unknown key {key!r} in {self.where} "
                                  f"(known: {', '.join(sorted(handlers))})")
            values[key.replace("-", "_")] = handlers[key](key, value)
        return Config(path=self.path, **values)

    def strings(self, key: str, value: Any) -> list[str]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "expected a list of strings")
        return value

    def codes(self, key: str, value: Any) -> list[str]:
        return [c.strip() for v in self.strings(key, value) for c in v.split(",") if c.strip()]

    def per_file_ignores(self, key: str, value: Any) -> dict[str, list[str]]:
        if not isinstance(value, dict):
            raise self.fail(key, "expected a table of glob = [codes]")
        return {glob: self.codes(f"{key}.{glob}", codes) for glob, codes in value.items()}

    def one_severity(self, key: str, value: Any) -> Severity:
        try:
            return Severity.parse(str(value))
        except ValueError as exc:
            raise self.fail(key, str(exc)) from None

    def severity(self, key: str, value: Any) -> dict[str, Severity]:
        if not isinstance(value, dict):
            raise self.fail(key, "expected a table of rule = severity")
        out = {}
        for rule, level in value.items():
            cls = self.rule(f"{key}.{rule}", rule)
            out[cls.code] = self.one_severity(f"{key}.{rule}", level)
        return out

    def rule(self, key: str, name: str):
        cls = self.rules.get(str(name).lower()) or self.rules.get(str(name).upper())
        if cls is None:
            raise self.fail(key, f"unknown rule {name!r}")
        return cls

    def megabytes(self, key: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.fail(key, f"expected a whole number of megabytes, at least 1; got {value!r}")
        return value

    def ephemeral(self, key: str, value: Any) -> str:
        if not isinstance(value, str):
            raise self.fail(key, "expected a preset name (iana, linux, ...) or LO-HI")
        return value

    def project_root(self, key: str, value: Any) -> Path:
        if not isinstance(value, str):
            raise self.fail(key, "expected a path")
        return (self.path.parent / value).resolve()

    def rule_options(self, key: str, value: Any) -> dict[str, dict[str, Any]]:
        if not isinstance(value, dict):
            raise self.fail(key, "expected a table per rule: [tool.portlint.rules.RULE-NAME]")
        out = {}
        for rule, options in value.items():
            cls = self.rule(f"{key}.{rule}", rule)
            if not isinstance(options, dict):
                raise self.fail(f"{key}.{rule}", "expected a table of options")
            for option, setting in options.items():
                if option not in cls.options:
                    known = ", ".join(cls.options) or "none"
                    raise self.fail(f"{key}.{rule}.{option}", f"unknown option of {cls.name} (known: {known})")
                default = cls.options[option]
                if type(setting) is not type(default):
                    raise self.fail(f"{key}.{rule}.{option}", f"expected {type(default).__name__}, got {setting!r}")
            out[cls.name] = dict(options)
        return out

    def ports(self, key: str, value: Any) -> tuple[PortRange, str | None]:
        """``8443``, ``"8443/tcp"``, ``"8000-8010/udp"``."""
        text = str(value).strip().lower()
        spec, _, proto = text.partition("/")
        lo, sep, hi = spec.partition("-")
        if not (lo.isdigit() and (not sep or hi.isdigit())) or (proto and proto not in PROTOCOLS):
            raise self.fail(key, f"expected PORT, LO-HI, optionally /tcp or /udp; got {value!r}")
        r = PortRange(int(lo), int(hi) if sep else int(lo))
        if r.is_empty or r.end > MAX_PORT:
            raise self.fail(key, f"{value!r} is not a range within 0-65535")
        return r, proto or None

    def allow(self, key: str, value: Any) -> list[Allowance]:
        if not isinstance(value, list):
            raise self.fail(key, "expected a list of {port = ..., reason = ...}")
        out = []
        for i, item in enumerate(value):
            where = f"{key}[{i}]"
            if not isinstance(item, dict) or set(item) - {"port", "reason"} or "port" not in item:
                raise self.fail(where, "expected {port = \"8443/tcp\", reason = \"why it is open\"}")
            if not str(item.get("reason", "")).strip():
                raise self.fail(where, "an allowance needs a reason")
            ports, proto = self.ports(f"{where}.port", item["port"])
            out.append(Allowance(ports, proto, str(item["reason"])))
        return out

    def catalog(self, key: str, value: Any) -> list[SiteService]:
        """A site catalog file (YAML or TOML): ``services: [{port, name, description}]``."""
        if not isinstance(value, str):
            raise self.fail(key, "expected the path of a site catalog file")
        path = (self.path.parent / value)
        if not path.is_file():
            raise self.fail(key, f"{path} does not exist")
        data = _load_yaml(path) if path.suffix in (".yaml", ".yml") else _load_toml(path)
        services = data.get("services") if isinstance(data, dict) else None
        if not isinstance(services, list):
            raise ConfigError(f"{path}: expected a list under 'services'")
        out = []
        for i, item in enumerate(services):
            where = f"{path.name}: services[{i}]"
            if not isinstance(item, dict) or "port" not in item or not item.get("name"):
                raise ConfigError(f"{path}: services[{i}]: expected {{port, name, description}}")
            ports, proto = _Checker(path, self.rules).ports(where, item["port"])
            out.append(SiteService(ports, proto, str(item["name"]), str(item.get("description", ""))))
        return out
