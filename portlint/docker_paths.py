"""How the packets of a port Docker publishes meet the host firewall of the project.

Docker publishes a compose port with a DNAT in the nat table (PREROUTING, then its ``DOCKER``
chain) and an accept on the forward path: the packets reach the container through FORWARD,
never through INPUT. So:

- the host firewall's input path, what it would do with the port were it a host service, is
  *bypassed*: it does not apply, whatever it says;
- what applies is the forward path as Docker leaves it to the host: the ``DOCKER-USER`` chain
  (iptables' ``filter`` table), which Docker's FORWARD jumps to before its own accepts, and
  every forward base chain of another table (netfilter runs them all: a drop in any is final).
  The ``filter FORWARD`` chain itself is Docker's: it inserts its jumps above the file's rules,
  so those rules and the chain's policy never see published ports.

The forward path sees the packets after the DNAT: their destination port is the container's.
Matching the published port there takes conntrack's original destination port
(``--ctorigdstport``), which the model does not represent: such a rule may match, never
surely does.
"""
from __future__ import annotations

import ipaddress
from typing import Iterator

from .exposure import ChainKey
from .model import Action, ChainPolicy, FirewallRule, Location, PortBinding, PortRange, record
from .rules import ProjectContext, RuleContext
from .rules.structure import describe, done
from .verdicts import ChainWalker, Verdict, probe, sees

DOCKER_USER = "DOCKER-USER"
FILTER_TYPES = (None, "filter")


@record
class ChainFate:
    """The verdict of one chain of one firewall file on a probe."""

    path: str
    chain: str
    verdict: Verdict

    @property
    def culprit(self) -> FirewallRule | ChainPolicy | None:
        """What drops the packets: the rule or policy of the verdict, else the first rule that
        drops some of them."""
        if self.verdict.closes:
            return self.verdict.decided_by
        return next((p.rule for p in self.verdict.partials if p.action in Action.CLOSING), self.verdict.decided_by)

    @property
    def line(self) -> int:
        culprit = self.culprit
        if isinstance(culprit, FirewallRule):
            return culprit.rule_line or culprit.location.line
        return culprit.location.line if culprit is not None else 0

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def location(self) -> Location | None:
        """Where the culprit is, as :meth:`explain` names it; None when nothing drops the packets."""
        return Location(self.path, self.line) if self.culprit is not None else None

    def explain(self) -> str:
        """``rules.v4:3, policy drop of INPUT``: where and how the chain drops the packets."""
        culprit = self.culprit
        if isinstance(culprit, ChainPolicy):
            return f"{self.where}, policy {culprit.policy} of {culprit.chain}"
        if culprit is None:
            return f"{self.path}, {self.chain}"
        return f"{self.where}, {describe(culprit)} {done(culprit)} on {culprit.chain}"


@record
class PublishedFate:
    """What the project's firewall does with the packets of one published port."""

    binding: PortBinding
    #: Input-path chains that drop the port and would keep it closed, were it a host service.
    bypassed: tuple[ChainFate, ...]
    #: Forward-path chains that see its packets (DOCKER-USER, other tables' forward chains).
    forward: tuple[ChainFate, ...]

    @property
    def dropped(self) -> ChainFate | None:
        """The first forward chain that drops every packet: nothing reaches the container."""
        return next((f for f in self.forward if f.verdict.closes_all), None)

    @property
    def filtered(self) -> ChainFate | None:
        """The first forward chain that drops some packets (or all of them)."""
        return next((f for f in self.forward if f.verdict.may_close), None)


def host_versions(binding: PortBinding) -> frozenset[str]:
    """The IP versions of the addresses a binding listens on: both with no host address."""
    address = binding.host_ip
    if not address:
        return frozenset({"ip", "ip6"})
    return frozenset({"ip6" if ":" in address else "ip"})


def on_loopback(binding: PortBinding) -> bool:
    """Bound to a loopback address: Docker's NAT does not forward it (its own proxy serves it)."""
    try:
        return ipaddress.ip_address((binding.host_ip or "").strip("[]")).is_loopback
    except ValueError:
        return False


def chain_walker(ctx: RuleContext) -> ChainWalker:
    """The document's chain walker, shared by every user of the document (``ctx.shared``)."""
    return ChainWalker(ctx.chains)


def _docker_forward(policy: ChainPolicy) -> bool:
    """iptables' ``filter FORWARD`` chain, where Docker inserts its own rules first."""
    return policy.table == "filter" and policy.chain == "FORWARD" and policy.family in ("ip", "ip6")


class ProjectFirewall:
    """Every firewall file of a project, walked for the packets of published ports; built once
    per project (``ProjectContext.shared``)."""

    def __init__(self, project: ProjectContext) -> None:
        # The chains each binding is walked through, found once: a kube-proxy dump has 70k
        # chains, and a project may publish hundreds of ports.
        self._inputs: list[tuple[str, ChainWalker, ChainPolicy]] = []
        self._forwards: list[tuple[str, ChainWalker, str, ChainKey | None, ChainPolicy | None]] = []
        for ctx in project.contexts:
            if not ctx.document.is_firewall:
                continue
            path, walker = ctx.document.path, ctx.shared(chain_walker)
            self._inputs.extend((path, walker, policy) for policy in ctx.document.policies
                                if policy.hook == "input" and policy.type in FILTER_TYPES)
            self._forwards.extend((path, walker, key[0], key, None) for key in ctx.chains.rules
                                  if key[2] == DOCKER_USER and key[1] == "filter" and key[0] in ("ip", "ip6"))
            self._forwards.extend((path, walker, policy.family, None, policy) for policy in ctx.document.policies
                                  if policy.hook == "forward" and policy.type in FILTER_TYPES
                                  and not _docker_forward(policy))
        self._fates: dict[PortBinding, PublishedFate] = {}
        self._walks: dict[tuple, tuple[ChainFate, ...]] = {}

    def fate(self, binding: PortBinding) -> PublishedFate:
        """What the firewall does with ``binding``'s packets (not for loopback bindings, which
        Docker's NAT does not forward)."""
        if binding not in self._fates:
            versions = host_versions(binding)
            bypassed: tuple[ChainFate, ...] = ()
            if binding.published is not None:
                inputs = self._walked(self._input, binding.protocol, binding.published, versions)
                bypassed = tuple(f for f in inputs if _closes_port(f.verdict))
            forwards = self._walked(self._forward, binding.protocol, binding.target, versions)
            self._fates[binding] = PublishedFate(binding, bypassed, forwards)
        return self._fates[binding]

    def _walked(self, walk, protocol: str, ports: PortRange, versions: frozenset[str]) -> tuple[ChainFate, ...]:
        """The fates of the packets of ``protocol`` to ``ports``, walked once for every binding
        that sends them: the services of a project publish the same ports again and again."""
        key = (walk, protocol, ports, versions)
        if key not in self._walks:
            self._walks[key] = tuple(walk(probe(protocol, (ports,)), versions))
        return self._walks[key]

    def _input(self, packets, versions) -> Iterator[ChainFate]:
        for path, walker, policy in self._inputs:
            if sees(policy.family, versions):
                yield ChainFate(path, policy.chain, walker.base(policy, packets))

    def _forward(self, packets, versions) -> Iterator[ChainFate]:
        for path, walker, family, chain, policy in self._forwards:
            if not sees(family, versions):
                continue
            if chain is not None:
                yield ChainFate(path, chain[2], walker.chain(chain, packets))
            else:
                yield ChainFate(path, policy.chain, walker.base(policy, packets))


def _closes_port(verdict: Verdict) -> bool:
    """The input path keeps the port closed: it drops it, and no rule about the port accepts it
    for some packets on grounds other than their source (an interface, a condition portlint
    does not model: who may reach the port cannot be told). An allowlist of sources does not
    keep the port open to others, so Docker bypasses it too."""
    return verdict.closes and not any(p.action == Action.ACCEPT and p.names_ports and not p.by_source
                                      for p in verdict.partials)
