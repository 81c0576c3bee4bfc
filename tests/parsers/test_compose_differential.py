"""portlint's compose bindings against ``docker-compose -f FILE config`` (Debian's v1), where
installed: for every file it accepts, the ports it prints equal portlint's.

Known departures of docker-compose v1 from the Compose Specification are left out: files it
rejects (top-level ``name``, long-syntax ``host_ip``, published ranges) are skipped, and no input
here uses what it accepts wrongly (``"80:80:80:80"``, ports above 65535, duplicate keys, unquoted
``56:56`` read as base 60).
"""
from __future__ import annotations

import collections
import json
import os
import shutil
import subprocess
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from portlint.model import PortBinding
from portlint.parsers.compose import ComposeParser

DOCKER_COMPOSE = shutil.which("docker-compose")
pytestmark = pytest.mark.skipif(DOCKER_COMPOSE is None, reason="docker-compose (v1) is not installed")

#: Every short-syntax form docker-compose v1 reads as the specification does.
FORMS = textwrap.dedent("""\
    services:
      app:
        image: nginx
        ports:
          - "80"
          - "8080:80"
          - "127.0.0.1:8081:81"
          - "[::1]:8082:82"
          - "9000-9002:9000-9002"
          - "9100-9110:91"
          - "127.0.0.1::83"
          - "3000-3002"
          - "53:53/udp"
          - "8084:84/sctp"
          - 8085
          - target: 86
            published: 8086
            protocol: udp
        expose:
          - "5000"
      other:
        image: redis
        ports:
          - "${REDIS_PORT:-6380}:6379"
    """)


def corpus_files(shared: Path) -> list[Path]:
    records = [json.loads(line) for line in (shared / "corpus" / "oracle.jsonl").read_text().splitlines()]
    return [shared / "corpus" / r["file"] for r in records if r["format"] == "compose"]


def staged(source: Path, root: Path) -> Path:
    """A copy of ``source`` with the build contexts and env files it names created (empty), so
    that docker-compose judges its ports, not a checkout that is not there."""
    target = root / "a" / "b" / source.name
    target.parent.mkdir(parents=True)
    shutil.copy(source, target)
    (target.parent / ".env").touch()
    try:
        data = YAML(typ="safe").load(source.read_text())
    except Exception:  # noqa: BLE001 - invalid YAML: docker-compose will say so itself
        return target
    services = data.get("services") if isinstance(data, dict) else None
    for service in (services or {}).values():
        if not isinstance(service, dict):
            continue
        build = service.get("build")
        context = build.get("context", ".") if isinstance(build, dict) else build
        if isinstance(context, str) and "://" not in context:
            (target.parent / context).mkdir(parents=True, exist_ok=True)
        env_files = service.get("env_file") or []
        for env_file in [env_files] if isinstance(env_files, str) else env_files:
            if isinstance(env_file, str):
                (target.parent / env_file).parent.mkdir(parents=True, exist_ok=True)
                (target.parent / env_file).touch()
    return target


def docker_compose_ports(path: Path) -> collections.Counter | None:
    """The ports docker-compose prints, one key per published port, or None when it rejects the file."""
    run = subprocess.run([DOCKER_COMPOSE, "-f", path.name, "config"], cwd=path.parent, capture_output=True,
                         text=True, timeout=60, env={"PATH": os.environ.get("PATH", "")})
    if run.returncode != 0:
        return None
    config = YAML(typ="safe").load(run.stdout) or {}
    keys = collections.Counter()
    for name, service in (config.get("services") or {}).items():
        for port in service.get("ports") or ():
            if isinstance(port, dict):
                published = port.get("published")
                keys[(name, None, str(published) if published is not None else None, str(port["target"]),
                      port.get("protocol", "tcp"))] += 1
            else:  # the legacy string of a port with a host address: IP:PUBLISHED:TARGET/PROTOCOL
                rest, _, protocol = str(port).partition("/")
                host_ip, published, target = rest.rsplit(":", 2)
                keys[(name, host_ip.strip("[]"), published or None, target, protocol or "tcp")] += 1
    return keys


def portlint_ports(path: Path) -> collections.Counter:
    """portlint's bindings in docker-compose's shape: equal-length ranges one port per key."""
    document = ComposeParser().parse(path.read_text(), str(path))
    keys = collections.Counter()
    for b in document.declarations:
        if not isinstance(b, PortBinding) or b.kind != "ports":
            continue
        if b.published is not None and b.published.width != b.target.width:
            keys[(b.service, b.host_ip, str(b.published), str(b.target), b.protocol)] += 1
            continue
        for i in range(b.target.width):
            published = str(b.published.start + i) if b.published is not None else None
            keys[(b.service, b.host_ip, published, str(b.target.start + i), b.protocol)] += 1
    return keys


def test_every_form_reads_as_docker_compose_reads_it(tmp_path):
    path = tmp_path / "compose.yaml"
    path.write_text(FORMS)
    reference = docker_compose_ports(path)
    assert reference is not None, "docker-compose rejects the forms file"
    assert portlint_ports(path) == reference


def test_corpus_files_docker_compose_accepts(shared, tmp_path):
    files = [staged(f, tmp_path / str(i)) for i, f in enumerate(corpus_files(shared))]
    with ThreadPoolExecutor(max_workers=4) as pool:
        references = list(pool.map(docker_compose_ports, files))
    compared = 0
    for path, reference in zip(files, references):
        if reference is None:
            continue
        compared += 1
        assert portlint_ports(path) == reference, path.name
    assert compared >= 25, f"docker-compose accepted only {compared} corpus files"
