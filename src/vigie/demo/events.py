"""Drawing usage events as arrays: who, when, from which device and from where.

One call draws every event of a service at once. A person uses a service only if they adopted
it (a per-role share), and adopters are picked in proportion to their activity; times come
from the calendar's (day, hour) grid; the device and the network location depend on the
service, the role and the device (a smartphone is never on the wired network).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from vigie.demo import catalog as cat
from vigie.demo.people import Population
from vigie.demo.rhythm import Calendar
from vigie.demo.text import hex16, ipv4_text, join, pick

__all__ = ["DESKTOP", "PHONE", "TABLET", "UA_POOL", "Events", "draw_events", "ua_text"]

DESKTOP, PHONE, TABLET = 0, 1, 2
WIRED, WIFI, EDUROAM, VPN, HOME, MOBILE = range(6)

#: Every user agent, desktop then smartphone then tablet then bots; events keep an index.
UA_POOL: tuple[str, ...] = (
    tuple(ua for ua, _ in cat.UA_DESKTOP)
    + tuple(ua for ua, _ in cat.UA_PHONE)
    + tuple(ua for ua, _ in cat.UA_TABLET)
    + cat.UA_BOTS
)
_PHONE0 = len(cat.UA_DESKTOP)
_TABLET0 = _PHONE0 + len(cat.UA_PHONE)
BOT0 = _TABLET0 + len(cat.UA_TABLET)
_LAB = np.array([UA_POOL.index(ua) for ua, _ in cat.UA_LAB], dtype=np.int64)

#: Inside the campus, share of wired / wifi / eduroam by role (student, teacher, staff, researcher).
_INSIDE_MIX = np.array(
    [[0.15, 0.45, 0.40], [0.55, 0.28, 0.17], [0.70, 0.22, 0.08], [0.55, 0.25, 0.20]]
)
#: Outside, share of VPN by role (desktop devices only).
_VPN_SHARE = np.array([0.02, 0.15, 0.25, 0.2])
#: Outside-share multiplier by role.
_OUTSIDE_ROLE = np.array([1.1, 1.0, 0.75, 1.0])
_NETS = {WIRED: 10, WIFI: 20, EDUROAM: 30, VPN: 40}


@dataclass
class Events:
    """Parallel arrays, one element per event."""

    person: npt.NDArray[np.int64]
    local: npt.NDArray[np.int64]  # local wall-clock seconds since 1970 (naive)
    offset: npt.NDArray[np.int64]  # UTC offset in seconds
    device: npt.NDArray[np.int64]
    ua: npt.NDArray[np.int64]  # index into UA_POOL
    zone: npt.NDArray[np.int64]
    ipv4: npt.NDArray[np.int64]
    ipv6: npt.NDArray[np.int64]  # shape (n, 4) of 16-bit groups after 2001:db8; -1 = IPv4
    service: npt.NDArray[np.int64]  # index into catalog.SERVICES

    def __len__(self) -> int:
        return len(self.person)

    @property
    def utc(self) -> npt.NDArray[np.int64]:
        """Unix time of each event."""
        return self.local - self.offset

    def take(self, index: npt.NDArray[np.integer]) -> Events:
        return Events(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @staticmethod
    def concat(parts: list[Events]) -> Events:
        return Events(
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Events)}
        )

    def sorted(self) -> Events:
        return self.take(np.argsort(self.local, kind="stable"))

    def ip_text(self) -> pa.Array:
        """Client address of each event (dotted quad, or compressed IPv6)."""
        text = ipv4_text(self.ipv4)
        v6 = np.flatnonzero(self.ipv6[:, 0] >= 0)
        if len(v6):
            groups = self.ipv6[v6]
            h = hex16()
            g = [pc.take(h, pa.array(groups[:, k])) for k in range(4)]
            v6_text = join("2001:db8:", g[0], ":", g[1], "::", g[2], ":", g[3])
            mask = np.zeros(len(self), dtype=bool)
            mask[v6] = True
            text = pc.replace_with_mask(text, pa.array(mask), v6_text)
        return text


def ua_text(events: Events) -> pa.Array:
    return pick(UA_POOL, events.ua)


def draw_events(
    rng: np.random.Generator,
    population: Population,
    calendar: Calendar,
    profile: cat.ServiceProfile,
    size: int,
    *,
    tag: int = 0,
) -> Events:
    """`size` events of one service (unsorted); `tag` is stored in `Events.service`."""
    role = population.role
    adoption = np.asarray(profile.adoption)[role]
    adopted = rng.random(len(population)) < adoption
    weight = population.activity * np.asarray(profile.intensity)[role] * adopted
    if size == 0 or weight.sum() == 0:
        size = 0
        weight = np.ones(len(population))
    person = rng.choice(len(population), size=size, p=weight / weight.sum()).astype(np.int64)
    grid = calendar.slot_weights(profile.weekday, profile.evening, profile.holiday_factor)
    local, offset = calendar.draw(rng, grid, size)
    r = role[person]

    # Device: the person's smartphone affinity scales the service's smartphone share.
    phone_p = np.clip(profile.smartphone * population.phone_affinity[person], 0.0, 0.9)
    tablet_p = np.where(population.has_tablet[person], profile.tablet * 4.0, 0.0)
    u = rng.random(size)
    device = np.where(u < phone_p, PHONE, np.where(u < phone_p + tablet_p, TABLET, DESKTOP))

    # Where from: outside share by service and role, more outside on weekends.
    weekend = ((local // 86_400 + 3) % 7) >= 5  # 1970-01-01 was a Thursday
    p_out = np.clip(profile.outside * _OUTSIDE_ROLE[r], 0.0, 0.97)
    p_out = np.where(weekend, 1.0 - (1.0 - p_out) * 0.5, p_out)
    outside = rng.random(size) < p_out
    mix = _INSIDE_MIX[r]
    v = rng.random(size)
    inside_zone = np.where(v < mix[:, 0], WIRED, np.where(v < mix[:, 0] + mix[:, 1], WIFI, EDUROAM))
    inside_zone = np.where((device != DESKTOP) & (inside_zone == WIRED), WIFI, inside_zone)
    w = rng.random(size)
    outside_zone = np.where(
        (device == DESKTOP) & (w < _VPN_SHARE[r]),
        VPN,
        np.where((device == PHONE) & (w > 0.4), MOBILE, HOME),
    )
    zone = np.where(outside, outside_zone, inside_zone).astype(np.int64)

    # User agent: the person's own device; students on the wired network use computer rooms.
    ua = np.where(
        device == PHONE,
        _PHONE0 + population.phone_ua[person],
        np.where(
            device == TABLET, _TABLET0 + population.tablet_ua[person], population.desktop_ua[person]
        ),
    )
    lab = (zone == WIRED) & (r == cat.STUDENT)
    ua = np.where(lab, _LAB[rng.integers(0, len(_LAB), size)], ua).astype(np.int64)

    # Addresses.
    host = rng.integers(256, 65_279, size=size, dtype=np.int64)
    net = np.zeros(size, dtype=np.int64)
    for z, second in _NETS.items():
        net[zone == z] = second
    ipv4 = (10 << 24) | (net << 16) | host
    desk = population.desk_ip[person]
    ipv4 = np.where((zone == WIRED) & (desk > 0), desk, ipv4)
    ipv4 = np.where(zone == HOME, population.home_v4[person], ipv4)
    carrier = np.array([(a << 8) | b for a, b in cat.MOBILE_PREFIXES], dtype=np.int64)
    mobile = (carrier[rng.integers(0, len(carrier), size)] << 16) | rng.integers(1, 65_535, size)
    ipv4 = np.where(zone == MOBILE, mobile, ipv4)

    ipv6 = np.full((size, 4), -1, dtype=np.int64)
    home_groups = population.home_v6[person]
    use_home_v6 = (zone == HOME) & (home_groups[:, 0] >= 0) & (rng.random(size) < 0.7)
    ipv6[use_home_v6, :3] = home_groups[use_home_v6]
    campus_v6 = ((zone == WIFI) | (zone == EDUROAM)) & (rng.random(size) < 0.2)
    ipv6[campus_v6, 0] = np.where(zone[campus_v6] == WIFI, 0x20, 0x30)
    ipv6[campus_v6, 1] = rng.integers(0, 65_536, int(campus_v6.sum()))
    ipv6[campus_v6, 2] = rng.integers(0, 65_536, int(campus_v6.sum()))
    any_v6 = use_home_v6 | campus_v6
    ipv6[any_v6, 3] = rng.integers(1, 65_536, int(any_v6.sum()))

    return Events(
        person=person,
        local=local,
        offset=offset,
        device=device.astype(np.int64),
        ua=ua,
        zone=zone,
        ipv4=ipv4.astype(np.int64),
        ipv6=ipv6,
        service=np.full(size, tag, dtype=np.int64),
    )
