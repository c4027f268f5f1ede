"""Where a sandbox's egress proxy may connect: the repository's NetworkPolicy applied to a host and its addresses.

Pure decisions, no I/O: the proxy resolves the host once, asks here, and connects to the address that passed (a
second lookup could answer differently: DNS rebinding). Addresses that are not public (loopback, link-local with
the cloud metadata endpoints, private ranges, CGNAT, multicast, reserved) are refused whatever the mode, unless
the policy names that host in `domains` or the address's range in `cidrs`.

Domain names match exactly; `*.example.com` matches example.com and every name under it (Modal's vocabulary).
"""

import ipaddress
from dataclasses import dataclass

from harness.sandboxes.base import NetworkPolicy

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


@dataclass(frozen=True)
class Allowed:
    address: IPAddress


@dataclass(frozen=True)
class Refused:
    reason: str
    """For the agent: what the policy refused, never whether the host answers."""


def named_host(policy: NetworkPolicy, host: str) -> bool:
    """Whether `domains` names the host (exactly, or under a `*.` entry)."""
    host = host.rstrip(".").lower()
    for entry in (d.rstrip(".").lower() for d in policy.domains):
        if entry.startswith("*."):
            apex = entry[2:]
            if host == apex or host.endswith("." + apex):
                return True
        elif host == entry:
            return True
    return False


def in_named_range(policy: NetworkPolicy, address: IPAddress) -> bool:
    return any(address in ipaddress.ip_network(cidr, strict=False) for cidr in policy.cidrs)


def is_public(address: IPAddress) -> bool:
    """A globally routable unicast address. IPv6 forms that carry an IPv4 address are judged by that address."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return is_public(embedded)
    return address.is_global and not address.is_multicast


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, Teredo, NAT64), which is where it leads."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    embedded = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
    if embedded is None and address in _NAT64:
        embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return embedded


def decide(policy: NetworkPolicy, host: str, addresses: list[IPAddress]) -> Allowed | Refused:
    """The first of the host's addresses the policy lets the proxy connect to."""
    prefix = "blocked by the repository's network policy:"
    if policy.mode == "blocked":
        return Refused(f"{prefix} this sandbox has no network")
    named = named_host(policy, host)
    if policy.mode == "allowlist" and not named and not any(in_named_range(policy, a) for a in addresses):
        return Refused(f"{prefix} {host} is not in the allow-list")
    refusals = []
    for address in addresses:
        if policy.mode == "allowlist" and not (named or in_named_range(policy, address)):
            refusals.append(f"{address} is not in the allow-list")
        elif is_public(address) or in_named_range(policy, address) or named:
            return Allowed(address)
        else:
            embedded = _embedded_ipv4(address)
            shown = f"{address} ({embedded})" if embedded else str(address)
            refusals.append(f"{shown} is {_kind(embedded or address)}")
    return Refused(f"{prefix} {refusals[0]}" if refusals else f"{prefix} {host} has no address")


def _kind(address: IPAddress) -> str:
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address (cloud metadata lives there)"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address"
    return "not a public address"
