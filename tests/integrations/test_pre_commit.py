"""The pre-commit hook (``.pre-commit-hooks.yaml``): its file pattern, and a real ``pre-commit
run`` of this checkout's hook in a throwaway repository."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "ci" / "pre-commit-config.yaml"
TELNET = "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp -m tcp --dport 23 -j ACCEPT\nCOMMIT\n"
CLEAN = "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n"


def load_yaml(path: Path):
    return YAML(typ="safe").load(path.read_text())


@pytest.fixture(scope="module")
def hook() -> dict:
    (hook,) = load_yaml(ROOT / ".pre-commit-hooks.yaml")
    return hook


def matches(hook: dict, path: str) -> bool:
    """Whether pre-commit passes ``path`` (relative to the repository) to the hook."""
    return re.search(hook["files"], path) is not None


def test_the_hook_runs_portlint_check_skipping_files_of_no_known_format(hook):
    assert hook["id"] == "portlint" and hook["language"] == "python"
    assert hook["entry"] == "portlint check --skip-unknown"


def test_the_manifest_is_valid_for_pre_commit():
    pytest.importorskip("pre_commit", reason="pre-commit is not installed (pip install -e '.[test]')")
    result = subprocess.run([sys.executable, "-m", "pre_commit", "validate-manifest", str(ROOT / ".pre-commit-hooks.yaml")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_pattern_covers_every_name_a_parser_claims(hook, registry):
    """Each parser's name patterns, made concrete, at the root and in a folder, in any case."""
    for parser in registry.parsers.values():
        for pattern in parser.patterns:
            name = pattern.replace("*", "prod")
            for path in (name, f"infra/host-1/{name}", f"infra/{name.upper()}"):
                assert matches(hook, path), f"{parser.name} reads {path} but the hook does not pass it"


@pytest.mark.parametrize("path", [
    "docker-compose.yml", "deploy/compose.override.yaml", "compose.prod.yml", "docker-compose.ci.yaml",
    "etc/iptables/rules.v4", "etc/iptables/rules.v6", "firewall/site.rules", "etc/nftables.conf",
    "nft/filter.nft", "backup/host.iptables", "scripts/firewall.sh", "etc/init.d/firewall",
    "etc/network/if-pre-up.d/iptables", "etc/iptables.up",
])
def test_the_pattern_covers_the_documented_names(hook, path):
    assert matches(hook, path)


@pytest.mark.parametrize("path", [
    "README.md", "setup.py", ".github/workflows/ci.yml", "k8s/deployment.yaml", "mycompose.yaml",
    "compose.yaml.bak", "rules.v4.orig", "docs/firewall.md",
])
def test_the_pattern_leaves_other_files_alone(hook, path):
    assert not matches(hook, path)


@pytest.mark.slow
def test_pre_commit_fails_on_a_bad_file_and_passes_on_a_good_one(tmp_path):
    """``pre-commit run --all-files`` with the documented configuration pointed at this
    checkout's HEAD commit (commit before running it): pre-commit builds the hook's virtual
    environment from it, with its dependencies from PyPI."""
    pytest.importorskip("pre_commit", reason="pre-commit is not installed (pip install -e '.[test]')")
    # The hook runs the portlint installed in its own environment, not the one on PYTHONPATH.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT", "PYTHONPATH"))}
    env["PRE_COMMIT_HOME"] = str(tmp_path / "cache")

    def git(*args: str, cwd: Path = ROOT) -> str:
        result = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    if subprocess.run(["git", "rev-parse", "--git-dir"], cwd=ROOT, env=env, capture_output=True).returncode:
        pytest.skip(f"{ROOT} is not a git checkout: pre-commit installs hooks from a commit")
    config = load_yaml(EXAMPLE)
    config["repos"][0].update(repo=str(ROOT), rev=git("rev-parse", "HEAD"))

    repo = tmp_path / "infra"
    files = {
        ".pre-commit-config.yaml": "",
        "etc/iptables/rules.v4": TELNET,
        "etc/udev/99-usb.rules": 'SUBSYSTEM=="usb", MODE="0660"\n',  # matched by the pattern, of no format
        "README.md": "the firewall of the lab\n",
    }
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    YAML().dump(config, repo / ".pre-commit-config.yaml")
    git("init", "-q", cwd=repo)
    git("add", "-A", cwd=repo)

    def pre_commit() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pre_commit", "run", "--all-files", "--color", "never"],
                              cwd=repo, env=env, capture_output=True, text=True, timeout=300)

    failed = pre_commit()
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert re.search(r"^portlint\.+Failed$", failed.stdout, re.MULTILINE), failed.stdout
    assert "etc/iptables/rules.v4:3:32: PL201 [warning] 23/tcp (telnet, cleartext)" in failed.stdout
    assert "99-usb.rules" not in failed.stdout

    (repo / "etc/iptables/rules.v4").write_text(CLEAN)
    git("add", "-A", cwd=repo)
    passed = pre_commit()
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert re.search(r"^portlint\.+Passed$", passed.stdout, re.MULTILINE), passed.stdout
