"""ZonePlan: longest-prefix classification of IPv4/IPv6 strings, vectorized for IPv4."""

from __future__ import annotations

import ipaddress

import numpy as np
import pyarrow as pa
import pytest

from vigie.errors import ConfigError
from vigie.referential.network import ZonePlan

PLAN = {
    "campus": ["10.0.0.0/8", "2001:db8::/32"],
    "wifi": ["10.20.0.0/16"],
    "vpn": ["10.20.5.0/24", "2001:db8:5::/48"],
    "loopback": ["127.0.0.0/8", "::1/128"],
}


@pytest.fixture
def plan() -> ZonePlan:
    return ZonePlan(PLAN)


@pytest.mark.parametrize(
    ("ip", "zone"),
    [
        ("10.1.2.3", "campus"),
        ("10.20.1.1", "wifi"),
        ("10.20.5.9", "vpn"),  # /24 inside /16 inside /8: most specific wins
        ("10.20.6.0", "wifi"),
        ("10.255.255.255", "campus"),
        ("11.0.0.0", "outside"),
        ("9.255.255.255", "outside"),
        (" 8.8.8.8 ", "outside"),
        ("0.0.0.0", "outside"),
        ("255.255.255.255", "outside"),
        ("127.0.0.1", "loopback"),
        ("::ffff:10.20.5.1", "vpn"),  # IPv4-mapped IPv6
        ("::FFFF:127.0.0.1", "loopback"),
        ("0:0:0:0:0:ffff:10.1.1.1", "campus"),
        ("0:0:0:0:0:0:0:1", "loopback"),  # Java-style ::1
        ("[::1]", "loopback"),
        ("fe80::1%eth0", "outside"),
        ("2001:db8::5", "campus"),
        ("2001:DB8:5::1", "vpn"),
        ("2a00:1450::1", "outside"),
        (None, "unknown"),
        ("", "unknown"),
        ("-", "unknown"),
        ("unknown", "unknown"),
        ("300.1.1.1", "unknown"),
        ("1.2.3", "unknown"),
        ("1.2.3.4.5", "unknown"),
        ("1.2.3.4:8080", "unknown"),
        ("2001:db8::zz", "unknown"),
        ("::ffff:999.1.1.1", "unknown"),
    ],
)
def test_referential_network_classify_cases(plan: ZonePlan, ip: str | None, zone: str) -> None:
    assert plan.classify(pa.array([ip], pa.string())).to_pylist() == [zone]


def test_referential_network_keeps_order_length_and_types(plan: ZonePlan) -> None:
    ips = pa.chunked_array([["10.20.5.1", None], ["2001:db8::1", "1.1.1.1"]], pa.large_string())
    zones = plan.classify(ips)
    assert zones.type == pa.string()
    assert zones.to_pylist() == ["vpn", "unknown", "campus", "outside"]
    assert plan.classify(pa.array([], pa.string())).to_pylist() == []


def test_referential_network_custom_outside_and_zone_names() -> None:
    plan = ZonePlan({"lan": "192.168.0.0/16"}, outside="internet")  # a lone CIDR string is fine
    assert plan.zones == ["lan"]
    assert plan.classify(pa.array(["192.168.1.1", "1.1.1.1", "x"])).to_pylist() == [
        "lan",
        "internet",
        "unknown",
    ]


def test_referential_network_matches_ipaddress_on_random_ips(plan: ZonePlan) -> None:
    """The vectorized path agrees with a per-value ipaddress reference on 20k random IPs."""
    rng = np.random.default_rng(42)
    values = np.concatenate(
        [rng.integers(0, 2**32, 10_000), rng.integers(10 << 24, 11 << 24, 10_000)]
    )
    texts = [str(ipaddress.IPv4Address(int(v))) for v in values]
    networks = sorted(
        ((ipaddress.ip_network(c), zone) for zone, cidrs in PLAN.items() for c in cidrs),
        key=lambda item: -item[0].prefixlen,
    )

    def reference(text: str) -> str:
        address = ipaddress.ip_address(text)
        for network, zone in networks:
            if address.version == network.version and address in network:
                return zone
        return "outside"

    assert plan.classify(pa.array(texts)).to_pylist() == [reference(t) for t in texts]


@pytest.mark.parametrize(
    ("zones", "message"),
    [
        ({"wifi": ["10.0.0.0/33"]}, r"zone 'wifi': invalid CIDR '10\.0\.0\.0/33'"),
        ({"wifi": ["10.0.0.1/8"]}, r"zone 'wifi': invalid CIDR '10\.0\.0\.1/8'.*host bits"),
        ({"wifi": ["not-a-cidr"]}, r"zone 'wifi': invalid CIDR 'not-a-cidr'"),
        ({"wifi": [42]}, r"zone 'wifi': 42 is not a CIDR string"),
        ({"a": ["10.0.0.0/8"], "b": ["10.0.0.0/8"]}, r"zone 'b': CIDR '10\.0\.0\.0/8'.*'a'"),
        ({"outside": ["10.0.0.0/8"]}, "reserved"),
        ({"unknown": ["10.0.0.0/8"]}, "reserved"),
    ],
)
def test_referential_network_bad_plan_is_config_error(
    zones: dict[str, list[object]], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        ZonePlan(zones)  # type: ignore[arg-type]
