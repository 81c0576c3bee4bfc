"""Docker Compose files: every port a project publishes (``ports:``) or exposes (``expose:``).

A file is read as Docker Compose v2 reads the project it belongs to (see
:mod:`.compose_project`): naming ``compose.yaml`` or the ``compose.override.yaml`` beside it
lints the merged project, with each declaration located in the file that writes it.
"""
from __future__ import annotations

import re

from ..hookspecs import hookimpl
from ..model import Document, ServiceSettings
from . import Parser

#: Top-level keys of the Compose Specification (and extensions): a YAML file whose top-level
#: keys are all of these and include ``services:`` (or ``include:``) is a compose file.
TOP_LEVEL_KEYS = frozenset({"version", "name", "include", "services", "networks", "volumes", "secrets",
                            "configs", "models"})
_TOP_LEVEL_KEY = re.compile(r"^(?P<key>[^\s#:'\"-][^:#]*?|'[^']*'|\"[^\"]*\")\s*:(?:\s|$)")
_NESTED_KEY = re.compile(r"^\s+[^\s#-][^:#]*:(\s|$)")


class ComposeParser(Parser):
    name = "compose"
    description = "Docker Compose files (compose.yaml and the files it merges, includes and extends)"
    patterns = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml",
                "compose.*.yaml", "compose.*.yml", "docker-compose.*.yaml", "docker-compose.*.yml")

    def sniff(self, head: str) -> bool:
        """A YAML mapping whose top-level keys are all compose keys, with ``services:`` holding a
        mapping (or an ``include:``): Kubernetes manifests, CI workflows and other YAML have
        top-level keys of their own and are left alone."""
        lines = [line for line in head.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        keys: list[str] = []
        for number, line in enumerate(lines):
            if line[0] in " \t" or line.startswith("---"):
                continue
            match = _TOP_LEVEL_KEY.match(line)
            if match is None:
                return False
            key = match["key"].strip("'\"")
            if key not in TOP_LEVEL_KEYS and not key.startswith("x-"):
                return False
            if key == "services" and not (number + 1 < len(lines) and _NESTED_KEY.match(lines[number + 1])):
                return False
            keys.append(key)
        return "services" in keys or "include" in keys

    def parse(self, text: str, path: str) -> Document:
        document = Document(path, self.name, text)
        from .compose_project import ProjectLoader, project_files  # lark and ruamel: only when needed

        loader = ProjectLoader(self.options.environment, self.options.yaml_size_limit)
        services = loader.load_project(project_files(path), {path: text})
        for service in services.values():
            document.declarations.extend(service.ports)
            document.declarations.extend(service.expose)
            document.services.append(ServiceSettings(
                location=service.location, service=service.name, network_mode=service.network_mode,
                network_mode_location=service.network_mode_location, profiles=service.profiles))
        document.diagnostics = sorted(loader.diagnostics(), key=lambda d: (
            d.location.path != path, d.location.path, d.location.line, d.location.column))
        return document


@hookimpl
def portlint_register_parsers():
    return [ComposeParser()]
