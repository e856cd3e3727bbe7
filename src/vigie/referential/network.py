"""Network zone of a client IP, from the institution's CIDR plan.

Why vectorized: :meth:`ZonePlan.classify` runs on the DISTINCT client IPs of each ingested
chunk (up to about a million), so IPv4 — nearly all traffic — is parsed with arrow kernels and
looked up with one numpy ``searchsorted`` over a flattened, non-overlapping range table. IPv6
is rarer and goes through :mod:`ipaddress` once per distinct value; IPv4-mapped IPv6
(``::ffff:1.2.3.4``, what dual-stack Java servers log) is folded back to IPv4 vectorially.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from vigie.errors import ConfigError

__all__ = ["UNKNOWN_ZONE", "ZonePlan"]

#: Zone of NULL or unparseable addresses (``-``, host names, truncated values).
UNKNOWN_ZONE = "unknown"

_IPV4 = r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$"
# IPv4-mapped IPv6, compressed or Java-style expanded; applied to lower-cased text.
_MAPPED_PREFIX = r"^(?:::|(?:0{1,4}:){5})ffff:(\d{1,3}\.)"
_V4_SPACE = 1 << 32
_OCTET_WEIGHTS = np.array([1 << 24, 1 << 16, 1 << 8, 1], dtype=np.int64)


class ZonePlan:
    """Classify IPs into named zones; the longest matching prefix wins, like a routing table.

    ``zones`` maps a zone name to its CIDRs (``"10.0.0.0/8"``, ``"2001:db8::/32"``); an
    address matching none is ``outside``, and NULL/garbage is ``"unknown"``.
    """

    def __init__(self, zones: Mapping[str, Sequence[str]], outside: str = "outside") -> None:
        self._names: list[str] = []
        v4: list[tuple[int, int, int, int]] = []  # prefixlen, start, end (exclusive), zone
        v6: list[tuple[ipaddress.IPv6Network, int]] = []
        seen: dict[ipaddress.IPv4Network | ipaddress.IPv6Network, str] = {}
        for zone, cidrs in zones.items():
            if not zone or zone in (outside, UNKNOWN_ZONE):
                raise ConfigError(
                    f"network zone {zone!r}: the name is empty or reserved "
                    f"({outside!r} and {UNKNOWN_ZONE!r} are given to unmatched addresses)"
                )
            index = len(self._names)
            self._names.append(zone)
            for cidr in [cidrs] if isinstance(cidrs, str) else cidrs:
                network = _parse_cidr(zone, cidr)
                if seen.get(network, zone) != zone:
                    raise ConfigError(
                        f"network zone {zone!r}: CIDR {cidr!r} is already in zone "
                        f"{seen[network]!r}; a network can belong to one zone only"
                    )
                seen[network] = zone
                if isinstance(network, ipaddress.IPv4Network):
                    start = int(network.network_address)
                    v4.append((network.prefixlen, start, start + network.num_addresses, index))
                else:
                    v6.append((network, index))
        self._outside = len(self._names)
        self._unknown = self._outside + 1
        self._labels = pa.array([*self._names, outside, UNKNOWN_ZONE], pa.string())
        self._bounds, self._range_zone = self._flatten(v4)
        self._v6 = sorted(v6, key=lambda item: -item[0].prefixlen)

    @property
    def zones(self) -> list[str]:
        """Zone names in declaration order."""
        return list(self._names)

    def _flatten(
        self, v4: list[tuple[int, int, int, int]]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]:
        """Cut IPv4 space at every CIDR edge and paint each piece, shortest prefix first.

        Painting longer prefixes last makes them win, so lookup is one searchsorted.
        """
        edges = {0, _V4_SPACE}
        for _, start, end, _ in v4:
            edges.update((start, end))
        bounds = np.array(sorted(edges), dtype=np.int64)
        range_zone = np.full(len(bounds), self._outside, dtype=np.int32)
        for _, start, end, zone in sorted(v4):
            low, high = np.searchsorted(bounds, [start, end])
            range_zone[low:high] = zone
        return bounds, range_zone

    def _lookup_v4(self, values: npt.NDArray[np.int64]) -> npt.NDArray[np.int32]:
        positions = np.searchsorted(self._bounds, values, side="right") - 1
        return self._range_zone[positions]

    def _lookup_v6(self, text: str) -> int:
        """Zone index of one non-IPv4 string (IPv6, possibly bracketed or with a %scope)."""
        candidate = text.strip().removeprefix("[").removesuffix("]").split("%", 1)[0]
        try:
            address = ipaddress.IPv6Address(candidate)
        except ValueError:
            return self._unknown
        if address.ipv4_mapped is not None:
            value = np.array([int(address.ipv4_mapped)], dtype=np.int64)
            return int(self._lookup_v4(value)[0])
        for network, zone in self._v6:
            if address in network:
                return zone
        return self._outside

    def classify(self, ips: pa.Array | pa.ChunkedArray) -> pa.Array:
        """Zone name of each IP (string array, same length and order as ``ips``)."""
        if isinstance(ips, pa.ChunkedArray):
            ips = ips.combine_chunks()
        if not (pa.types.is_string(ips.type) or pa.types.is_large_string(ips.type)):
            ips = ips.cast(pa.string())
        if len(ips) == 0:
            return pa.array([], pa.string())
        result = np.full(len(ips), self._unknown, dtype=np.int32)
        text = pc.utf8_lower(pc.utf8_trim_whitespace(ips))
        text = pc.replace_substring_regex(text, pattern=_MAPPED_PREFIX, replacement=r"\1")
        is_v4 = pc.fill_null(pc.match_substring_regex(text, _IPV4), False)
        v4_rows = np.flatnonzero(is_v4.to_numpy(zero_copy_only=False))
        if len(v4_rows):
            parts = pc.list_flatten(pc.split_pattern(pc.filter(text, is_v4), "."))
            octets = pc.cast(parts, pa.int64()).to_numpy().reshape(-1, 4)
            valid = (octets <= 255).all(axis=1)
            values = octets @ _OCTET_WEIGHTS
            zones = self._lookup_v4(values)
            result[v4_rows[valid]] = zones[valid]
        maybe_v6 = pc.and_(pc.invert(is_v4), pc.fill_null(pc.match_substring(text, ":"), False))
        v6_rows = np.flatnonzero(maybe_v6.to_numpy(zero_copy_only=False))
        if len(v6_rows):
            for row, value in zip(v6_rows, pc.filter(text, maybe_v6).to_pylist(), strict=True):
                result[row] = self._lookup_v6(value)
        return pc.take(self._labels, pa.array(result))


def _parse_cidr(zone: str, cidr: object) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """Strict parse: host bits set (``10.0.0.1/8``) usually hides a typo, so it is refused."""
    if not isinstance(cidr, str):
        raise ConfigError(f"network zone {zone!r}: {cidr!r} is not a CIDR string")
    try:
        return ipaddress.ip_network(cidr.strip(), strict=True)
    except ValueError as exc:
        raise ConfigError(f"network zone {zone!r}: invalid CIDR {cidr!r} ({exc})") from exc
