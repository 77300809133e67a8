#!/usr/bin/python3
"""Writes small MaxMind DB (.mmdb) country databases for FlyTrap's tests.

Follows the MaxMind DB file format 2.0: a binary search tree (24-, 28- or
32-bit records), sixteen zero bytes, the data section, then the metadata
marker and map. Only what country databases need is encoded (maps, arrays,
utf8 strings, unsigned integers, booleans, doubles); no pointers, so every
distinct record is written once and shared by the tree.

    mmdbwrite.py [--schema geoip2|dbip] [--ip-version 4|6] [--type NAME]
                 OUT.mmdb CIDR=CC [CIDR=CC ...]

CC is a country code, written as given (so tests can write malformed ones);
a value starting with "{" is a JSON object written verbatim as the record
(e.g. '{}' for a record without a country). More specific networks win
over the larger ones they sit in, whatever the order on the command line.

In an IPv6 database IPv4 networks live under ::/96, and, as MaxMind's own
databases do, ::ffff:0:0/96 (IPv4-mapped) and 2002::/16 (6to4) lead to the
same IPv4 subtree; networks inside those two ranges are refused.

From Python: build_database(networks, ...) returns the file's bytes and
write_database(path, networks, ...) writes it; networks is a sequence of
(cidr, value) pairs with value a code or a dict.
"""

import argparse
import collections
import ipaddress
import json
import os
import struct
import sys
import time

METADATA_MARKER = b"\xab\xcd\xefMaxMind.com"
DATA_SEPARATOR = bytes(16)

# Data section type numbers (spec, "Output Data Section").
TYPE_UTF8 = 2
TYPE_DOUBLE = 3
TYPE_BYTES = 4
TYPE_UINT16 = 5
TYPE_UINT32 = 6
TYPE_MAP = 7
TYPE_INT32 = 8
TYPE_UINT64 = 9
TYPE_ARRAY = 11
TYPE_BOOLEAN = 14

# Largest payload size the control byte and its extension can express.
MAX_PAYLOAD_SIZE = 65821 + (1 << 24) - 1

# Enough country and continent names for the records to look real; other
# codes are named by themselves.
COUNTRY_NAMES = {
    "AT": ("Austria", "EU"), "AU": ("Australia", "OC"),
    "BE": ("Belgium", "EU"), "BR": ("Brazil", "SA"),
    "CA": ("Canada", "NA"), "CH": ("Switzerland", "EU"),
    "CN": ("China", "AS"), "DE": ("Germany", "EU"),
    "DK": ("Denmark", "EU"), "ES": ("Spain", "EU"),
    "FI": ("Finland", "EU"), "FR": ("France", "EU"),
    "GB": ("United Kingdom", "EU"), "IE": ("Ireland", "EU"),
    "IN": ("India", "AS"), "IT": ("Italy", "EU"),
    "JP": ("Japan", "AS"), "NL": ("Netherlands", "EU"),
    "NO": ("Norway", "EU"), "PL": ("Poland", "EU"),
    "RU": ("Russia", "EU"), "SE": ("Sweden", "EU"),
    "US": ("United States", "NA"), "ZA": ("South Africa", "AF"),
}
CONTINENT_NAMES = {
    "AF": "Africa", "AN": "Antarctica", "AS": "Asia", "EU": "Europe",
    "NA": "North America", "OC": "Oceania", "SA": "South America",
}

SCHEMA_TYPES = {"geoip2": "FlyTrap-Test-Country", "dbip": "FlyTrap-Test-DBIP"}


class UInt16(int):
    """An integer to be stored as uint16."""


class UInt32(int):
    """An integer to be stored as uint32."""


class UInt64(int):
    """An integer to be stored as uint64."""


# ---- Data section encoding ---------------------------------------------------


def control(type_number, size):
    """The control byte(s) for a field of this type and payload size."""
    if size < 0 or size > MAX_PAYLOAD_SIZE:
        raise ValueError("field too large: %d" % size)
    if size < 29:
        low, extra = size, b""
    elif size < 29 + 256:
        low, extra = 29, bytes([size - 29])
    elif size < 285 + 65536:
        low, extra = 30, (size - 285).to_bytes(2, "big")
    else:
        low, extra = 31, (size - 65821).to_bytes(3, "big")
    if type_number <= 7:
        return bytes([(type_number << 5) | low]) + extra
    # Extended types: zero in the top bits, the type minus 7 next.
    return bytes([low, type_number - 7]) + extra


def encode_unsigned(type_number, value, bits):
    if value < 0 or value >= 1 << bits:
        raise ValueError("%d does not fit in %d bits" % (value, bits))
    payload = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return control(type_number, len(payload)) + payload


def encode(value):
    """The data-section encoding of a Python value."""
    if isinstance(value, bool):
        return control(TYPE_BOOLEAN, int(value))
    if isinstance(value, UInt16):
        return encode_unsigned(TYPE_UINT16, value, 16)
    if isinstance(value, UInt32):
        return encode_unsigned(TYPE_UINT32, value, 32)
    if isinstance(value, UInt64):
        return encode_unsigned(TYPE_UINT64, value, 64)
    if isinstance(value, int):
        if 0 <= value < 1 << 32:
            return encode_unsigned(TYPE_UINT32, value, 32)
        if value >= 0:
            return encode_unsigned(TYPE_UINT64, value, 64)
        if value >= -(1 << 31):
            payload = (value & 0xFFFFFFFF).to_bytes(4, "big")
            return control(TYPE_INT32, 4) + payload
        raise ValueError("negative integer out of int32 range: %d" % value)
    if isinstance(value, float):
        return control(TYPE_DOUBLE, 8) + struct.pack(">d", value)
    if isinstance(value, str):
        payload = value.encode("utf-8")
        return control(TYPE_UTF8, len(payload)) + payload
    if isinstance(value, (bytes, bytearray)):
        return control(TYPE_BYTES, len(value)) + bytes(value)
    if isinstance(value, dict):
        out = [control(TYPE_MAP, len(value))]
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError("map keys must be strings: %r" % (key,))
            out.append(encode(key))
            out.append(encode(item))
        return b"".join(out)
    if isinstance(value, (list, tuple)):
        out = [control(TYPE_ARRAY, len(value))]
        out.extend(encode(item) for item in value)
        return b"".join(out)
    raise ValueError("cannot encode %r" % (value,))


# ---- Records -------------------------------------------------------------------


def country_record(schema, code):
    """The record a database of this schema holds for a country code."""
    if schema == "dbip":
        return {"country_code": code}
    name, continent = COUNTRY_NAMES.get(code.upper(), (code, None))
    country = {"iso_code": code, "names": {"en": name}}
    record = {}
    if continent is not None:
        record["continent"] = {
            "code": continent,
            "names": {"en": CONTINENT_NAMES[continent]},
        }
    record["country"] = country
    record["registered_country"] = dict(country)
    return record


def record_for(schema, value):
    """A record from a code, a dict, or the command line's text."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.startswith("{"):
        parsed = json.loads(value)
        if not isinstance(parsed, dict):
            raise ValueError("a JSON record must be an object: %s" % value)
        return parsed
    if not isinstance(value, str):
        raise ValueError("a record is a country code or a dict: %r" % (value,))
    return country_record(schema, value)


# ---- Search tree -----------------------------------------------------------------


class Node:
    """A search tree node; a child is a Node, a Leaf, or None (no data)."""

    __slots__ = ("children",)

    def __init__(self, left=None, right=None):
        self.children = [left, right]


class Leaf:
    """A record's place in the data section."""

    __slots__ = ("offset",)

    def __init__(self, offset):
        self.offset = offset


def bit_at(bits, width, depth):
    return (bits >> (width - 1 - depth)) & 1


def tree_set(root, bits, width, prefix, child):
    """Makes the network bits/prefix lead to child, splitting what covers it."""
    if prefix == 0:
        root.children = [child, child]
        return
    node = root
    for depth in range(prefix - 1):
        side = bit_at(bits, width, depth)
        below = node.children[side]
        if not isinstance(below, Node):
            # A larger network (or nothing) covered this one: keep it on
            # both sides and go on down.
            below = Node(below, below)
            node.children[side] = below
        node = below
    node.children[bit_at(bits, width, prefix - 1)] = child


def tree_get(root, bits, width, prefix):
    """What the network bits/prefix leads to: a Node, a Leaf or None."""
    child = root
    for depth in range(prefix):
        if not isinstance(child, Node):
            break
        child = child.children[bit_at(bits, width, depth)]
    return child


IPV4_MAPPED = ipaddress.ip_network("::ffff:0:0/96")
SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
ALIASES = (IPV4_MAPPED, SIX_TO_FOUR)


def tree_position(network, ip_version):
    """(bits, prefix, width) of a network in a tree of this IP version."""
    if ip_version == 4:
        if network.version != 4:
            raise ValueError("%s: IPv6 network in an IPv4 database" % network)
        return int(network.network_address), network.prefixlen, 32
    if network.version == 4:
        return int(network.network_address), 96 + network.prefixlen, 128
    for alias in ALIASES:
        if network.subnet_of(alias):
            raise ValueError(
                "%s: inside %s, which leads to the IPv4 networks; "
                "write the IPv4 network instead" % (network, alias))
    return int(network.network_address), network.prefixlen, 128


def number_nodes(root):
    """Nodes in breadth-first order, root first (a shared node once)."""
    order, seen, queue = [], set(), collections.deque([root])
    while queue:
        node = queue.popleft()
        if id(node) in seen:
            continue
        seen.add(id(node))
        order.append(node)
        queue.extend(c for c in node.children if isinstance(c, Node))
    return order


def pack_node(left, right, record_size):
    if record_size == 24:
        return left.to_bytes(3, "big") + right.to_bytes(3, "big")
    if record_size == 28:
        # The top four bits of each record share the middle byte.
        middle = ((left >> 24) << 4) | (right >> 24)
        return (
            (left & 0xFFFFFF).to_bytes(3, "big") + bytes([middle]) +
            (right & 0xFFFFFF).to_bytes(3, "big"))
    return left.to_bytes(4, "big") + right.to_bytes(4, "big")


# ---- The file ----------------------------------------------------------------------


def build_database(networks, schema="geoip2", ip_version=6,
                   database_type=None, record_size=None, build_epoch=None,
                   description=None):
    """The bytes of a MaxMind DB mapping each (cidr, value) network."""
    if schema not in SCHEMA_TYPES:
        raise ValueError("unknown schema %r" % (schema,))
    if ip_version not in (4, 6):
        raise ValueError("ip_version must be 4 or 6")
    if record_size not in (None, 24, 28, 32):
        raise ValueError("record_size must be 24, 28 or 32")

    data = bytearray()
    leaves = {}  # encoded record -> Leaf, so equal records are stored once
    placed = []
    for cidr, value in networks:
        try:
            network = ipaddress.ip_network(cidr, strict=True)
            encoded = encode(record_for(schema, value))
        except ValueError as exc:
            raise ValueError("%s=%s: %s" % (cidr, value, exc)) from None
        if encoded not in leaves:
            leaves[encoded] = Leaf(len(data))
            data += encoded
        placed.append((tree_position(network, ip_version), leaves[encoded]))

    root = Node()
    # Larger networks first, so the ones inside them overwrite their part.
    for (bits, prefix, width), leaf in sorted(placed, key=lambda p: p[0][1]):
        tree_set(root, bits, width, prefix, leaf)
    if ip_version == 6:
        ipv4_root = tree_get(root, 0, 128, 96)
        for alias in ALIASES:
            tree_set(root, int(alias.network_address), 128, alias.prefixlen,
                     ipv4_root)

    nodes = number_nodes(root)
    node_count = len(nodes)
    numbers = {id(node): i for i, node in enumerate(nodes)}

    def record_value(child):
        if child is None:
            return node_count
        if isinstance(child, Node):
            return numbers[id(child)]
        return node_count + len(DATA_SEPARATOR) + child.offset

    largest = node_count + len(DATA_SEPARATOR) + len(data)
    if record_size is None:
        record_size = next(s for s in (24, 28, 32) if largest < 1 << s)
    elif largest >= 1 << record_size:
        raise ValueError("%d-bit records cannot address %d" %
                         (record_size, largest))

    tree = b"".join(
        pack_node(record_value(n.children[0]), record_value(n.children[1]),
                  record_size) for n in nodes)
    if database_type is None:
        database_type = SCHEMA_TYPES[schema]
    if build_epoch is None:
        build_epoch = int(time.time())
    if build_epoch < 1:
        # libmaxminddb refuses a database whose build_epoch is zero.
        raise ValueError("build_epoch must be positive")
    if description is None:
        description = "FlyTrap test database (%s schema)" % schema
    metadata = {
        "binary_format_major_version": UInt16(2),
        "binary_format_minor_version": UInt16(0),
        "build_epoch": UInt64(build_epoch),
        "database_type": database_type,
        "description": {"en": description},
        "ip_version": UInt16(ip_version),
        "languages": ["en"],
        "node_count": UInt32(node_count),
        "record_size": UInt16(record_size),
    }
    return tree + DATA_SEPARATOR + bytes(data) + METADATA_MARKER + encode(
        metadata)


def write_database(path, networks, **options):
    """Writes build_database(networks, **options) to path (atomically)."""
    content = build_database(networks, **options)
    tmp = "%s.tmp%d" % (path, os.getpid())
    with open(tmp, "wb") as out:
        out.write(content)
    os.replace(tmp, path)


def main(argv):
    parser = argparse.ArgumentParser(
        description="Write a small MaxMind DB country database.")
    parser.add_argument("--schema", choices=sorted(SCHEMA_TYPES),
                        default="geoip2")
    parser.add_argument("--ip-version", type=int, choices=(4, 6), default=6)
    parser.add_argument("--type", dest="database_type",
                        help="metadata database_type")
    parser.add_argument("--record-size", type=int, choices=(24, 28, 32),
                        help="bits per record (default: the smallest that "
                        "fits)")
    parser.add_argument("--build-epoch", type=int,
                        help="metadata build_epoch (default: now)")
    parser.add_argument("--description", help="metadata description (en)")
    parser.add_argument("out", metavar="OUT.mmdb")
    parser.add_argument("networks", metavar="CIDR=CC", nargs="*")
    args = parser.parse_args(argv)

    networks = []
    for item in args.networks:
        cidr, sep, value = item.partition("=")
        if not sep:
            parser.error("%s: expected CIDR=CC" % item)
        networks.append((cidr, value))
    try:
        write_database(args.out, networks, schema=args.schema,
                       ip_version=args.ip_version,
                       database_type=args.database_type,
                       record_size=args.record_size,
                       build_epoch=args.build_epoch,
                       description=args.description)
    except ValueError as exc:  # includes bad CIDRs and bad JSON
        print("mmdbwrite: %s" % exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
