"""A compose project as Docker Compose v2 assembles it from files.

One project is a base file, the override file Compose merges automatically when the base is a
default file name (``compose.yaml`` + ``compose.override.yaml`` beside it), the files it
``include``s (sub-projects, interpolated with their own ``.env``), and the services it
``extends`` (in the same file or another). Ports and ``expose`` entries are appended in merge
order, an entry equal to an earlier one replacing it, as Compose merges them; every entry keeps
the file and line it is written at. ``!reset`` drops an inherited list, ``!override`` replaces it.
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from typing import Mapping

from ..discovery import open_regular
from ..model import Diagnostic, Location, PortBinding, replace
from .common import PARSE_ERROR
from .compose_interpolation import read_dotenv
from .compose_ports import EntryReader
from .compose_yaml import OVERRIDE, RESET, YamlFile, is_mapping, is_scalar, is_sequence, items, kind, load, scalar

INCLUDE_ERROR = "PL006"
#: Projects including one another that portlint follows in a row (as nft follows 16 includes):
#: real projects use one or two, and each level is a few frames of Python's stack.
MAX_DEPTH = 64
#: The files ``docker compose`` reads without ``-f``: the first base found, then the first override.
DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
OVERRIDE_FILES = ("compose.override.yml", "compose.override.yaml", "docker-compose.override.yml",
                  "docker-compose.override.yaml")


def project_files(path: str) -> list[str]:
    """The files Compose merges into the project ``path`` belongs to, base first.

    A default base and the override beside it are one project whichever of them is named;
    every other file (``compose.prod.yaml``, standard input) is a project of its own.
    """
    directory, name = os.path.split(path)
    base = _first_existing(directory, DEFAULT_FILES)
    override = _first_existing(directory, OVERRIDE_FILES)
    if base is None or override is None or name not in (base, override):
        return [path]
    return [os.path.join(directory, base), os.path.join(directory, override)]


def _first_existing(directory: str, names: tuple[str, ...]) -> str | None:
    return next((n for n in names if os.path.isfile(os.path.join(directory, n))), None)


@dataclass
class Service:
    """A service as merged so far."""

    name: str
    location: Location
    ports: list[PortBinding] = field(default_factory=list)
    expose: list[PortBinding] = field(default_factory=list)
    network_mode: str | None = None
    network_mode_location: Location | None = None
    profiles: tuple[str, ...] = ()

    def merged_with(self, later: Service, resets: set[str]) -> Service:
        """This service with ``later`` merged over it (an override file, or an extending
        service over its base); ``resets`` names the lists ``later`` resets or overrides."""
        return Service(
            name=later.name, location=self.location,
            ports=_append(self.ports if "ports" not in resets else [], later.ports),
            expose=_append(self.expose if "expose" not in resets else [], later.expose),
            network_mode=later.network_mode or self.network_mode,
            network_mode_location=later.network_mode_location or self.network_mode_location,
            profiles=later.profiles or self.profiles,
        )

    def renamed(self, name: str) -> Service:
        return Service(name, self.location, [replace(b, service=name) for b in self.ports],
                       [replace(b, service=name) for b in self.expose], self.network_mode,
                       self.network_mode_location, self.profiles)


def _append(earlier: list[PortBinding], later: list[PortBinding]) -> list[PortBinding]:
    """Compose's sequence merge for ports: appended, an equal entry replacing the earlier one."""
    if not earlier:
        return list(later)
    merged = {_merge_key(b): b for b in earlier}
    for binding in later:
        merged.pop(_merge_key(binding), None)
        merged[_merge_key(binding)] = binding
    return list(merged.values())


def _merge_key(binding: PortBinding) -> tuple:
    return (binding.kind, binding.host_ip, binding.published, binding.target, binding.protocol)


@dataclass
class _File:
    """One file read for a project: its YAML and its service nodes."""

    yaml: YamlFile
    reader: EntryReader
    services: dict[str, tuple[object, object]]  # name -> (key node, service node)
    root: dict[str, tuple[object, object]]


class ProjectLoader:
    """Reads and merges the files of one project (and of the projects it includes)."""

    def __init__(self, environment: Mapping[str, str], size_limit: int | None = None) -> None:
        self.process_environment = environment
        self.size_limit = size_limit
        self.files: dict[tuple[str, int], _File] = {}
        self.resolved: dict[tuple[str, int, str], Service] = {}
        self.including: list[str] = []  # files whose includes are being read (cycle check)

    def diagnostics(self) -> list[Diagnostic]:
        """The problems met in every file read (a file read for two projects counts once)."""
        seen = {id(f.yaml): f.yaml for f in self.files.values()}
        return [d for doc in seen.values() for d in doc.diagnostics]

    def load_project(self, paths: list[str], texts: Mapping[str, str],
                     inherited: Mapping[str, str] | None = None, env_files: list[str] | None = None,
                     ) -> dict[str, Service]:
        """The merged services of the project made of ``paths`` (texts already read are given)."""
        directory = os.path.dirname(paths[0])
        env_files = env_files if env_files is not None else [os.path.join(directory, ".env")]
        env: dict[str, str] = {}
        for env_file in env_files:
            env.update(read_dotenv(env_file, {**env, **self.process_environment}))
        env.update(inherited if inherited is not None else self.process_environment)
        services: dict[str, Service] = {}
        for path in paths:
            file = self.read(path, env, texts.get(path))
            if file is None:
                continue
            for name, service in self.file_services(file, env).items():
                earlier = services.get(name)
                if earlier is None:
                    services[name] = service
                else:
                    written = file.services.get(name)  # None for a service of an included project
                    services[name] = earlier.merged_with(service, _resets(written[1]) if written else set())
        return services

    def read(self, path: str, env: dict[str, str], text: str | None = None) -> _File | None:
        key = (path, id(env))
        if key in self.files:
            return self.files[key]
        size = len(text.encode("utf-8", errors="replace")) if text is not None else _file_size(path)
        if self.size_limit is not None and size is not None and size > self.size_limit:
            yaml = load("", path)  # too big to load safely: reported, never read
            yaml.diagnostics.append(Diagnostic(
                PARSE_ERROR, f"file of {size / 2**20:.1f} MB, above the YAML size limit of "
                             f"{self.size_limit / 2**20:g} MB (yaml-size-limit): not read", Location(path, 1, 1)))
            file = self.files[key] = _File(yaml, EntryReader(yaml, env), {}, {})
            return file
        if text is None:
            text = _read_text(path)
            if text is None:
                return None
        yaml = load(text, path)
        file = _File(yaml, EntryReader(yaml, env), {}, {})
        root = yaml.root
        if root is not None and not is_mapping(root):
            yaml.error(root, f"a compose file is a mapping of top-level keys (services, ...), not {kind(root)}")
        elif root is not None:
            file.root = {name: (key, value) for name, key, value in items(root)}
            services = file.root.get("services")
            if services is not None and is_mapping(services[1]):
                file.services = {name: (key, value) for name, key, value in items(services[1])}
            elif services is not None and not _is_null(services[1]):
                yaml.error(services[1], f"services must be a mapping of service names, not {kind(services[1])}")
        self.files[key] = file
        return file

    def file_services(self, file: _File, env: dict[str, str]) -> dict[str, Service]:
        """The services one file defines (each with its ``extends`` applied) and those of the
        projects it includes."""
        services = {name: self.service(file, env, name) for name in file.services}
        include = file.root.get("include")
        if include is not None:
            for name, service in self.included(file, env, include[1]).items():
                if name in services:
                    file.yaml.error(file.services[name][0], f"service {name!r} is also defined by an included "
                                    "project: Compose rejects the conflict", INCLUDE_ERROR)
                else:
                    services[name] = service
        return services

    def service(self, file: _File, env: dict[str, str], name: str) -> Service:
        """Service ``name`` of ``file`` with its ``extends`` chain applied (once per file).

        The chain is walked down to a service already resolved or one that extends nothing,
        then resolved from there up, with no recursion: thousands of services extending one
        another are as good as two."""
        chain: list[tuple[_File, str]] = []  # the services whose bases are not applied yet, top first
        walked: dict[tuple[str, str], int] = {}  # (path, name) -> its place in the chain
        base = None
        while True:
            key = (file.yaml.path, id(env), name)
            if key in self.resolved:
                base = self.resolved[key]
                break
            walked[file.yaml.path, name] = len(chain)
            chain.append((file, name))
            extends = _value_of(file.services[name][1], "extends")
            target = self.extends_target(file, env, extends) if extends is not None else None
            if target is None:
                break
            place = walked.get((target[0].yaml.path, target[1]))
            if place is not None:  # a cycle: reported where it starts, as the service it returns to
                cycle_file, cycle_name = chain[place]
                through = chain[place + 1][1] if place + 1 < len(chain) else name
                cycle_file.yaml.error(_value_of(cycle_file.services[cycle_name][1], "extends"),
                                      f"extends: service {cycle_name!r} extends itself through {through!r}",
                                      INCLUDE_ERROR)
                break
            file, name = target
        for file, name in reversed(chain):
            key_node, node = file.services[name]
            own = self.own_service(file, name, key_node, node)
            if base is not None:
                own = base.renamed(name).merged_with(own, _resets(node))
                own.location = file.yaml.location(key_node)
            self.resolved[file.yaml.path, id(env), name] = base = own
        return base

    def own_service(self, file: _File, name: str, key_node, node) -> Service:
        """What a service's own lines say: its ports, expose, network_mode and profiles."""
        yaml, reader = file.yaml, file.reader
        service = Service(name, yaml.location(key_node))
        if not is_mapping(node):
            if not _is_null(node):
                yaml.error(node, f"service {name!r} must be a mapping, not {kind(node)}")
            return service
        for field_name, key, value in items(node):
            if field_name in ("ports", "expose"):
                entries = self.entries(yaml, field_name, value)
                read = reader.port if field_name == "ports" else reader.expose
                bindings = [b for b in (read(entry, name) for entry in entries) if b is not None]
                setattr(service, field_name, bindings)
            elif field_name == "network_mode":
                mode = reader.value(value, "network_mode", numbers=False)
                if mode is not None and mode.text:
                    service.network_mode, service.network_mode_location = mode.text, yaml.location(value)
            elif field_name == "profiles":
                entries = self.entries(yaml, field_name, value)
                profiles = (reader.value(entry, "profile", numbers=False) for entry in entries)
                service.profiles = tuple(p.text for p in profiles if p is not None)
        return service

    @staticmethod
    def entries(yaml: YamlFile, field_name: str, node) -> list:
        if node.tag == RESET or _is_null(node):
            return []
        if not is_sequence(node):
            yaml.error(node, f"{field_name} must be a list, not {kind(node)}")
            return []
        return node.value

    # -- extends and include ----------------------------------------------------------------

    def extends_target(self, file: _File, env: dict[str, str], node) -> tuple[_File, str] | None:
        """The file and name of the service an ``extends`` (``node``) names, or None (reported)."""
        yaml = file.yaml
        if is_scalar(node):
            target_name, target_file = str(scalar(node)), file
        elif is_mapping(node):
            fields = {key: value for key, _, value in items(node)}
            if "service" not in fields:
                yaml.error(node, "extends needs the service to extend")
                return None
            target_name = str(scalar(fields["service"])) if is_scalar(fields["service"]) else ""
            target_file = file
            if "file" in fields:
                relative = file.reader.value(fields["file"], "extends file", numbers=False)
                if relative is None:
                    return None
                path = _relative_to(yaml.path, relative.text)
                target_file = self.read(path, env)
                if target_file is None:
                    yaml.error(fields["file"], f"extends file {relative.text!r} cannot be read", INCLUDE_ERROR)
                    return None
        else:
            yaml.error(node, f"extends must be a service name or a mapping, not {kind(node)}")
            return None
        if target_name not in target_file.services:
            yaml.error(node, f"extends: service {target_name!r} is not defined in {target_file.yaml.path}",
                       INCLUDE_ERROR)
            return None
        return target_file, target_name

    def included(self, file: _File, env: dict[str, str], node) -> dict[str, Service]:
        """The services of the projects an ``include:`` list names."""
        yaml, services = file.yaml, {}
        entries = self.entries(yaml, "include", node)
        for entry in entries:
            paths, env_files = self.include_entry(file, entry)
            if not paths:
                continue
            missing = [p for p in paths if not os.path.isfile(p)]
            if missing:
                yaml.error(entry, f"included file {missing[0]!r} cannot be read", INCLUDE_ERROR)
                continue
            if paths[0] in self.including or paths[0] == yaml.path:
                yaml.error(entry, f"include cycle: {paths[0]!r} is already being included", INCLUDE_ERROR)
                continue
            if len(self.including) >= MAX_DEPTH:
                yaml.error(entry, f"more than {MAX_DEPTH} projects include one another here; portlint follows "
                                  f"no further, and does not read {paths[0]!r}", INCLUDE_ERROR)
                continue
            self.including.append(yaml.path)
            try:
                for name, service in self.load_project(paths, {}, env, env_files).items():
                    services.setdefault(name, service)
            finally:
                self.including.pop()
        return services

    def include_entry(self, file: _File, entry) -> tuple[list[str], list[str] | None]:
        """The files and env files of one ``include:`` item (a path, or a mapping)."""
        reader = file.reader
        if not is_mapping(entry):
            value = reader.value(entry, "include path", numbers=False)
            return ([_relative_to(file.yaml.path, value.text)] if value is not None else []), None
        fields = {key: value for key, _, value in items(entry)}
        if "path" not in fields:
            file.yaml.error(entry, "an include needs a path")
            return [], None
        paths = self.string_list(file, fields["path"], "include path")
        env_files = None
        if "env_file" in fields:
            env_files = self.string_list(file, fields["env_file"], "include env_file")
        return paths, env_files

    def string_list(self, file: _File, node, what: str) -> list[str]:
        nodes = node.value if is_sequence(node) else [node]
        values = (file.reader.value(n, what, numbers=False) for n in nodes)
        return [_relative_to(file.yaml.path, v.text) for v in values if v is not None]


def _value_of(node, name: str):
    if not is_mapping(node):
        return None
    return next((value for key, _, value in items(node) if key == name), None)


def _resets(node) -> set[str]:
    """The lists a service mapping resets (``!reset``) or replaces (``!override``)."""
    if not is_mapping(node):
        return set()
    return {key for key, _, value in items(node) if value.tag in (RESET, OVERRIDE)}


def _is_null(node) -> bool:
    return is_scalar(node) and scalar(node) is None


def _relative_to(path: str, relative: str) -> str:
    """``relative`` (as written in the file at ``path``) spelt like ``path``, so that a file
    reached through a reference and by walking the tree has one name."""
    if os.path.isabs(relative):
        return os.path.normpath(relative)
    joined = os.path.normpath(os.path.join(os.path.dirname(path), relative))
    if path.startswith("./") and not joined.startswith(("..", "/")):
        joined = "./" + joined
    return joined


def _file_size(path: str) -> int | None:
    try:
        return os.path.getsize(path) if os.path.isfile(path) else None
    except OSError:
        return None


def _read_text(path: str) -> str | None:
    """A referenced file's text; only regular files are read (never devices or pipes)."""
    try:
        with io.TextIOWrapper(open_regular(path), encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return None

