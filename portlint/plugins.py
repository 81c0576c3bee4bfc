"""The plugin manager: built-ins and ``portlint`` entry points, registered the same way.

A plugin that fails to import, implements a hook wrongly, or raises while registering is set
aside and reported as a :class:`PluginFailure` (an internal-error finding naming it); the run
goes on with the others.
"""
from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass, field
from typing import Any

import pluggy

from . import hookspecs
from .model import record
from .parsers import Parser
from .reporters import Reporter
from .rules import Rule

ENTRY_POINT_GROUP = "portlint"

#: portlint's own plugins, registered through the same hooks as third-party ones.
BUILTIN_PLUGINS = (
    "portlint.discovery",
    "portlint.parsers.iptables",
    "portlint.parsers.nftables",
    "portlint.parsers.compose",
    "portlint.parsers.iptables_script",
    "portlint.rules.input",
    "portlint.rules.catalog_facts",
    "portlint.rules.services",
    "portlint.rules.ranges",
    "portlint.rules.permissive",
    "portlint.rules.publishing",
    "portlint.rules.structure",
    "portlint.rules.docker_firewall",
    "portlint.reporters.text",
    "portlint.reporters.json",
    "portlint.reporters.json_lines",
    "portlint.reporters.sarif",
    "portlint.reporters.github",
    "portlint.reporters.gitlab",
    "portlint.reporters.junit",
)


@record
class PluginFailure:
    plugin: str
    message: str
    details: str = ""  # the traceback, shown with --debug


@dataclass
class Registry:
    """What the plugins contributed, and which plugin contributed what."""

    manager: pluggy.PluginManager
    parsers: dict[str, Parser] = field(default_factory=dict)
    rules: dict[str, type[Rule]] = field(default_factory=dict)
    reporters: dict[str, type[Reporter]] = field(default_factory=dict)
    catalog_entries: list = field(default_factory=list)
    origin: dict[Any, str] = field(default_factory=dict)
    failures: list[PluginFailure] = field(default_factory=list)

    def rule_by_name_or_code(self, key: str) -> type[Rule] | None:
        key_upper = key.upper()
        for rule in self.rules.values():
            if rule.code == key_upper or rule.name == key.lower():
                return rule
        return None

    def fail(self, plugin: str, message: str, exc: BaseException | None = None) -> None:
        import traceback  # only when a plugin fails

        details = "".join(traceback.format_exception(exc)) if exc else ""
        self.failures.append(PluginFailure(plugin, message, details))


def load_registry(entry_points: bool = True) -> Registry:
    manager = pluggy.PluginManager("portlint")
    manager.add_hookspecs(hookspecs)
    registry = Registry(manager)
    for module_name in BUILTIN_PLUGINS:
        manager.register(importlib.import_module(module_name), name=module_name)
    manager.check_pending()
    if entry_points:
        _load_entry_points(registry)
    _collect(registry)
    return registry


def _any_plugin_installed() -> bool:
    """Whether any distribution on sys.path declares a ``portlint`` entry point: a plain read of
    the entry_points.txt files (about a millisecond), so a run with no third-party plugin never
    pays for importlib.metadata (tens of milliseconds, on every pre-commit run)."""
    marker = f"[{ENTRY_POINT_GROUP}]"
    for folder in sys.path:
        try:
            names = os.listdir(folder or ".")
        except OSError:
            continue
        for name in names:
            if name.endswith((".dist-info", ".egg-info")):
                try:
                    with open(os.path.join(folder or ".", name, "entry_points.txt"), encoding="utf-8") as fh:
                        if marker in fh.read():
                            return True
                except (OSError, UnicodeDecodeError):
                    continue
    return False


def _load_entry_points(registry: Registry) -> None:
    if not _any_plugin_installed():
        return
    import importlib.metadata

    manager = registry.manager
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if manager.has_plugin(ep.name) or manager.is_blocked(ep.name):
            continue
        plugin = None
        try:
            plugin = ep.load()
            manager.register(plugin, name=ep.name)
            manager.check_pending()
        except Exception as exc:  # noqa: BLE001 - any plugin error is isolated and reported
            if plugin is not None and manager.is_registered(plugin):
                manager.unregister(plugin)
            registry.fail(ep.name, f"failed to load ({ep.value}): {type(exc).__name__}: {exc}", exc)


def _call_each(registry: Registry, hook_name: str):
    """Call every implementation of a no-argument registration hook on its own, so one that
    raises is reported without losing the others; yields ``(plugin_name, item)``."""
    hook = getattr(registry.manager.hook, hook_name)
    for impl in hook.get_hookimpls():  # registration order: built-ins first
        try:
            items = list(impl.function() or ())
        except Exception as exc:  # noqa: BLE001
            registry.fail(impl.plugin_name, f"{hook_name} raised {type(exc).__name__}: {exc}", exc)
            continue
        for item in items:
            yield impl.plugin_name, item


def _collect(registry: Registry) -> None:
    from .catalog import CatalogEntry, Risk

    for plugin, parser in _call_each(registry, "portlint_register_parsers"):
        if not isinstance(parser, Parser):
            registry.fail(plugin, f"portlint_register_parsers returned {parser!r}, not a Parser instance")
        elif parser.name in registry.parsers:
            registry.fail(plugin, f"parser {parser.name!r} is already registered by {registry.origin[registry.parsers[parser.name]]}")
        else:
            registry.parsers[parser.name] = parser
            registry.origin[parser] = plugin
    for plugin, rule in _call_each(registry, "portlint_register_rules"):
        problem = rule.validate() if isinstance(rule, type) and issubclass(rule, Rule) else f"{rule!r} is not a Rule subclass"
        if problem is None and rule.code in registry.rules:
            problem = f"rule code {rule.code} is already registered by {registry.origin[registry.rules[rule.code]]}"
        if problem is None and registry.rule_by_name_or_code(rule.name):
            problem = f"rule name {rule.name!r} is already registered"
        if problem:
            registry.fail(plugin, problem)
            continue
        registry.rules[rule.code] = rule
        registry.origin[rule] = plugin
    for plugin, reporter in _call_each(registry, "portlint_register_reporters"):
        if not (isinstance(reporter, type) and issubclass(reporter, Reporter) and getattr(reporter, "name", None)):
            registry.fail(plugin, f"{reporter!r} is not a Reporter subclass with a name")
        elif reporter.name in registry.reporters:
            registry.fail(plugin, f"output format {reporter.name!r} is already registered")
        else:
            registry.reporters[reporter.name] = reporter
            registry.origin[reporter] = plugin
    for plugin, entry in _call_each(registry, "portlint_catalog_entries"):
        if isinstance(entry, (CatalogEntry, Risk)):
            registry.catalog_entries.append(entry)
        else:
            registry.fail(plugin, f"portlint_catalog_entries returned {entry!r}, not a CatalogEntry or a Risk")
