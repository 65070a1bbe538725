"""Where a client connects: one server, several replicas, or a DNS name that lists them, as one gRPC channel.

gRPC balances a channel's calls over every address its target resolves to when the channel's load-balancing
policy is ``round_robin`` (its default, ``pick_first``, sends everything to the first address that answers). A
client of several replicas therefore needs one target naming all of them:

- ``"host:port"``: one server (``pick_first``, as before);
- ``"dns:///name:port"``: every address the name resolves to, re-resolved when connections fail (a Kubernetes
  headless Service, for instance), balanced ``round_robin``; so is a gRPC address list (``"ipv4:a:p,b:p"``);
- ``["host1:port", "host2:port", ...]``: these replicas, each name resolved once here, balanced ``round_robin``.
  gRPC's ``ipv4:``/``ipv6:`` targets list addresses of one family only, so the replicas must share one (IPv4 is
  chosen when every replica has an IPv4 address).

A call that fails with UNAVAILABLE on a replica that went away is retried (`RetryPolicy`), and round_robin sends
the retry to a replica that is still up.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass

from embedder.validation import check_choice, invalid

ROUND_ROBIN, PICK_FIRST = "round_robin", "pick_first"
LOAD_BALANCING = (ROUND_ROBIN, PICK_FIRST)


@dataclass(frozen=True)
class ChannelTarget:
    """What a channel is opened on.

    Attributes:
        uri: the gRPC target string.
        display: how the client shows it (the targets as given).
        replicas: True when the target names several servers, or a DNS name that may resolve to several.
    """

    uri: str
    display: str
    replicas: bool


def _split_host_port(target: str) -> tuple[str, int]:
    host, sep, port = target.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise invalid("target", "'host:port' strings", target)
    return host.strip("[]"), int(port)


def _addresses(host: str, port: int) -> dict[int, list[str]]:
    """The host's addresses by family (socket.AF_INET / AF_INET6), in resolver order, without repeats."""
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        return {socket.AF_INET if literal.version == 4 else socket.AF_INET6: [str(literal)]}
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise ValueError(f"Cannot resolve the replica {host}:{port}: {error}. Received: target={host}:{port}") from None
    found: dict[int, list[str]] = {}
    for family, _, _, _, address in infos:
        if family in (socket.AF_INET, socket.AF_INET6) and address[0] not in found.setdefault(family, []):
            found[family].append(address[0])
    return found


def _several(targets: Sequence[str]) -> ChannelTarget:
    resolved = [(target, *_split_host_port(target)) for target in targets]
    by_target = [(target, port, _addresses(host, port)) for target, host, port in resolved]
    for family, scheme in ((socket.AF_INET, "ipv4"), (socket.AF_INET6, "ipv6")):
        if all(family in addresses for _, _, addresses in by_target):
            entries = []
            for _, port, addresses in by_target:
                for address in addresses[family]:
                    entry = f"{address}:{port}" if family == socket.AF_INET else f"[{address}]:{port}"
                    if entry not in entries:
                        entries.append(entry)
            return ChannelTarget(f"{scheme}:{','.join(entries)}", ",".join(targets), True)
    raise ValueError(
        "The replicas have no address family in common (gRPC lists IPv4 or IPv6 addresses, not both). "
        f"Received: target={list(targets)!r}"
    )


def channel_target(target: str | Sequence[str]) -> ChannelTarget:
    """The gRPC target for `target` (see the module docstring).

    Raises:
        ValueError: `target` is not a non-empty ``host:port`` string or a non-empty list of them, or a replica's
            name does not resolve.
    """
    if isinstance(target, str):
        if not target.strip():
            raise invalid("target", "a 'host:port' string or a list of them", target)
        # A DNS name may resolve to several replicas; an `ipv4:`/`ipv6:` target may list several.
        return ChannelTarget(target, target, target.startswith("dns:") or "," in target)
    if not isinstance(target, Sequence) or not target or not all(isinstance(t, str) and t.strip() for t in target):
        raise invalid("target", "a 'host:port' string or a list of them", target)
    if len(target) == 1:
        return channel_target(target[0])
    return _several(list(target))


def load_balancing_options(target: ChannelTarget, load_balancing: str | None) -> dict[str, str]:
    """The channel options for `load_balancing` (None: round_robin over replicas, gRPC's default otherwise)."""
    if load_balancing is not None:
        check_choice("load_balancing", load_balancing, LOAD_BALANCING)
    policy = load_balancing or (ROUND_ROBIN if target.replicas else None)
    return {"grpc.lb_policy_name": policy} if policy else {}
