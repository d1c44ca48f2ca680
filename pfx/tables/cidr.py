"""``cidr:`` tables (cidr_table(5)): IPv4/IPv6 network rules, ``!`` negation, if/endif.

Keys and patterns are compared as numbers, so ``2001:DB8::1`` and ``2001:0db8::1`` are
the same address. A key that is not an IP address matches nothing. Bad rules are
warnings naming the line and are skipped, as in Postfix.
"""

import ipaddress

import attrs
from zope.interface import implementer

from pfx.errors import TableConfigError
from pfx.interfaces import ILookupTable
from pfx.tables.base import FileStamp, flags_or_default, warn
from pfx.tables.pattern import source_lines


class CidrRuleError(Exception):
    pass


@attrs.frozen
class CidrRule:
    op: str            # "match", "if", "endif"
    line: int
    network: object = None
    negate: bool = False
    result: str = ""
    skip_to: int = 0


def parse_address(text):
    """A key -> ip_address or None. Like Postfix, a key in brackets is not an address."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def parse_network(text):
    """``addr``, ``addr/len``, ``[addr]/len`` -> (negate, ip_network); host bits must be
    zero. Errors are worded as Postfix 3.7's cidr_match_parse (checked with its postmap)."""
    negate = text.startswith("!")
    if negate:
        text = text[1:].lstrip()
    if text.startswith("["):
        addr_text, close, after = text[1:].partition("]")
        if not close:
            raise CidrRuleError(f'missing \']\' character after "{text}"')
        if after and not after.startswith("/"):
            raise CidrRuleError(f'garbage after "[{addr_text}]"')
        text = addr_text + after
    addr_text, sep, mask = text.partition("/")
    if not sep:
        addr = parse_address(text)
        if addr is None:
            raise CidrRuleError(f'bad address pattern: "{text}"')
        return negate, ipaddress.ip_network(addr)
    if not mask.isascii() or not mask.isdigit():
        raise CidrRuleError(f'bad mask value in "{text}"')
    length = int(mask)
    if length > (128 if ":" in addr_text else 32):
        raise CidrRuleError(f'bad mask length in "{text}"')
    addr = parse_address(addr_text)
    if addr is None:
        raise CidrRuleError(f'bad network value in "{text}"')
    network = ipaddress.ip_network(f"{addr}/{length}", strict=False)
    if network.network_address != addr:
        raise CidrRuleError(
            f'non-null host address bits in "{text}", perhaps you should use '
            f'"{network.network_address}/{length}" instead')
    return negate, network


def parse_cidr(lines, label, flags):
    rules, open_ifs = [], []
    for number, line in lines:
        try:
            word = line.split(None, 1)
            head = word[0].lower()
            if head == "endif":
                if not open_ifs:
                    raise CidrRuleError("ENDIF without IF")
                start = open_ifs.pop()
                rules.append(CidrRule("endif", number))
                rules[start] = attrs.evolve(rules[start], skip_to=len(rules))
                continue
            if head == "if" or head.startswith("if!"):
                rest = line[2:].strip()  # all of it is the pattern, as in Postfix
                if not rest:
                    raise CidrRuleError("no address pattern")
                negate, network = parse_network(rest)
                open_ifs.append(len(rules))
                rules.append(CidrRule("if", number, network, negate))
                continue
            pattern, result = line.split(None, 1) if len(word) == 2 else (line, "")
            if pattern == "!" and result:
                # "! 1.2.3.0/24 result": the ! may stand apart from the pattern.
                pattern, _, result = result.partition(" ")
                pattern, result = "!" + pattern, result.strip()
            negate, network = parse_network(pattern)  # Postfix checks the pattern first
            result = result.strip()
            if not result:
                raise CidrRuleError("no lookup result")
            rules.append(CidrRule("match", number, network, negate, result))
        except CidrRuleError as e:
            warn(flags, f"{label}, line {number}: {e}: skipping this rule")
    for start in open_ifs:
        warn(flags, f"{label}, line {rules[start].line}: IF has no matching ENDIF")
        rules[start] = attrs.evolve(rules[start], skip_to=len(rules))
    return rules


def _matches(rule, addr):
    # Postfix compares only within one address family: "!0.0.0.0/0" does not match an
    # IPv6 key (checked against the real postmap).
    if addr.version != rule.network.version:
        return False
    return (addr in rule.network) != rule.negate


@implementer(ILookupTable)
class CidrTable:
    """Ordered network rules; reloaded when the file changes."""

    pattern = True  # sees only whole keys (see pfx.tables.match)

    def __init__(self, name, flags):
        self.name = name
        self.flags = flags_or_default(flags)
        self.rules = self._load()
        self.stamp = FileStamp(self._path) if self._path else None

    def _load(self):
        lines, self._path = source_lines(self.name)
        return parse_cidr(lines, f"cidr map {self._path or 'cidr:' + self.name}", self.flags)

    def lookup(self, key):
        if self.stamp is not None and self.stamp.changed():
            try:
                self.rules = self._load()
            except TableConfigError as e:
                warn(self.flags, f"cidr:{self.name}: reload failed: {e}")
        addr = parse_address(key)
        if addr is None:
            return None
        rules, i, n = self.rules, 0, len(self.rules)
        while i < n:
            rule = rules[i]
            if rule.op == "endif":
                i += 1
            elif rule.op == "if":
                i = i + 1 if _matches(rule, addr) else rule.skip_to
            elif _matches(rule, addr):
                return rule.result
            else:
                i += 1
        return None


def open_cidr(name, flags):
    return CidrTable(name, flags)
