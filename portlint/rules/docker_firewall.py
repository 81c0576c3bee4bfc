"""PL501, PL502: compose ports against the host firewall of the same project (cross-file).

The firewall's verdicts (:mod:`portlint.docker_paths`) are imported when a project has compose
ports to judge, not on every run that registers these rules.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from ..findings import Finding, Severity
from ..hookspecs import hookimpl
from ..model import Action, Document, Location, PortBinding
from . import ProjectContext, ProjectRule
from .publishing import host_ports, on_all_interfaces, published_bindings

if TYPE_CHECKING:
    from ..docker_paths import ChainFate, ProjectFirewall


def checked_bindings(project: ProjectContext) -> Iterator[PortBinding]:
    """The bindings Compose publishes in the checked documents, each once (a base file and its
    override are two documents of one merged project)."""
    seen: set[PortBinding] = set()
    for ctx in project.checked:
        for binding in published_bindings(ctx):
            if binding not in seen:
                seen.add(binding)
                yield binding


class _PublishedPortRule(ProjectRule):
    """Reports on compose files, so the project is read only when one is checked; judges them
    only when the project has a firewall (the walker is not even imported otherwise)."""

    def concerns(self, document: Document) -> bool:
        return any(isinstance(d, PortBinding) for d in document.declarations)

    def check_project(self, ctx: ProjectContext) -> Iterator[Finding]:
        if not any(c.document.is_firewall for c in ctx.contexts):
            return iter(())
        from ..docker_paths import ProjectFirewall

        return self.judge(ctx, ctx.shared(ProjectFirewall))

    def judge(self, ctx: ProjectContext, firewall: ProjectFirewall) -> Iterator[Finding]:
        raise NotImplementedError


class DockerBypassesFirewall(_PublishedPortRule):
    """A compose port is published on every interface while the host firewall of the same
    project would not accept it on its input path: the input chain's policy drops it, or a final
    rule drops or rejects it, and no rule about the port accepts it. Docker's NAT rules forward
    the port to the container through the FORWARD chain, so the INPUT chain never sees it: the
    port is open to every source while the firewall file says it is closed. Not reported when
    the project filters the port on the forward path (a ``DOCKER-USER`` rule, or a forward chain
    of another table, that drops some of its packets)."""

    code = "PL501"
    name = "docker-bypasses-firewall"
    severity = Severity.WARNING
    summary = "a compose port the host firewall drops is published around it"

    def judge(self, ctx: ProjectContext, firewall: ProjectFirewall) -> Iterator[Finding]:
        for binding in checked_bindings(ctx):
            if not on_all_interfaces(binding) or binding.published is None or ctx.settings.allows_all((binding.published,), (binding.protocol,)):
                continue
            fate = firewall.fate(binding)
            if fate.bypassed and fate.filtered is None:
                message, related = self._message(binding, fate.bypassed)
                yield self.finding(binding.location, message, related=related)

    @staticmethod
    def _message(binding: PortBinding, bypassed: tuple[ChainFate, ...]) -> tuple[str, tuple[Location, ...]]:
        """The message, and the places it names."""
        drops = "; ".join(f.explain() for f in bypassed)
        related = [f.location for f in bypassed if f.location is not None]
        sources: dict[str, list[str]] = {}
        for fate in bypassed:
            for p in fate.verdict.partials:
                if p.action == Action.ACCEPT and p.by_source:
                    accepting = Location(fate.path, p.rule.rule_line or p.rule.location.line)
                    related.append(accepting)
                    sources.setdefault(p.rule.saddr, []).append(f"{accepting.path}:{accepting.line}")
        allowed = ", ".join(f"{source} ({', '.join(where)})" for source, where in sources.items())
        firewall = f"accepts it only from {allowed} and drops it otherwise" if sources else "drops it"
        return (f"{host_ports(binding)} of service {binding.service} is published on every interface, but the host "
                f"firewall {firewall} ({drops}): Docker's NAT rules send it around the input path, so it is open "
                "to every source; bind it to an address (127.0.0.1:...) or filter it in DOCKER-USER"), tuple(related)


class PublishedPortFiltered(_PublishedPortRule):
    """A compose port is published, but the project's firewall drops every new connection to it
    on the forward path, where Docker's published traffic goes: a ``DOCKER-USER`` rule (or a
    forward chain of another table, which nftables runs besides Docker's) that drops or rejects
    it from every source, with no earlier rule letting some of it through. Nothing reaches the
    container: the publish is dead, or the rule is a mistake. Matched at the container port
    (the forward path sees the packets after Docker's DNAT). Loopback bindings are not
    forwarded and not judged."""

    code = "PL502"
    name = "published-port-filtered"
    severity = Severity.INFO
    summary = "a compose port the project's DOCKER-USER (forward path) rules drop: a dead publish"

    def judge(self, ctx: ProjectContext, firewall: ProjectFirewall) -> Iterator[Finding]:
        from ..docker_paths import on_loopback

        for binding in checked_bindings(ctx):
            if on_loopback(binding):
                continue
            dropped = firewall.fate(binding).dropped
            if dropped is not None:
                what = "rejects" if dropped.verdict.action == Action.REJECT else "drops"
                yield self.finding(binding.location, (
                    f"{host_ports(binding)} of service {binding.service} is published, but {dropped.chain} {what} every "
                    f"new connection to container port {binding.target}/{binding.protocol} ({dropped.explain()}): "
                    "nothing reaches the container; remove the publish, or the rule if the port should be reachable"),
                    related=(dropped.location,) if dropped.location is not None else ())


@hookimpl
def portlint_register_rules():
    return [DockerBypassesFirewall, PublishedPortFiltered]
