"""QueueId: Postfix-style long queue IDs, validated at construction and safe as file names.

Layout (Postfix mail_queue.h, enable_long_queue_ids = yes): 6 base-52 digits of the
creation time's seconds, 4 base-52 digits of its microseconds, the separator ``z``, then
the file's inode number in base 51. The alphabet has no vowels (no words by accident) and
is in ASCII order, so comparing two IDs as strings compares their creation times.

Uniqueness: two live files on one file system never share an inode, and an inode can only
be reused after its file is gone, which takes longer than the microsecond that tells the
two apart. So every queue directory must be on one file system (QueueStore.check says so).
"""

import re

import attrs

# Digits, then consonants in ASCII order; base 51 leaves out the final "z" (the separator).
ALPHABET = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz"
SEC_BASE, SEC_WIDTH = 52, 6
USEC_BASE, USEC_WIDTH = 52, 4
INUM_BASE = 51
SEPARATOR = "z"

_TIME_CHARS = re.escape(ALPHABET)
_INUM_CHARS = re.escape(ALPHABET[:INUM_BASE])
_QID_RE = re.compile(rf"[{_TIME_CHARS}]{{{SEC_WIDTH + USEC_WIDTH}}}z[{_INUM_CHARS}]{{1,14}}")
_VALUE = {c: i for i, c in enumerate(ALPHABET)}


def _encode(number: int, base: int, width: int = 1) -> str:
    digits = []
    while number:
        number, digit = divmod(number, base)
        digits.append(ALPHABET[digit])
    return "".join(reversed(digits)).rjust(width, "0")


def _decode(text: str, base: int) -> int:
    number = 0
    for char in text:
        number = number * base + _VALUE[char]
    return number


def _valid(value) -> bool:
    return (isinstance(value, str) and _QID_RE.fullmatch(value) is not None
            and _decode(value[SEC_WIDTH:SEC_WIDTH + USEC_WIDTH], USEC_BASE) < 1_000_000)


def _check(instance, attribute, value):
    if not _valid(value):
        raise ValueError(f"bad queue ID: {value!r}")


@attrs.frozen(order=True)
class QueueId:
    """One message's queue ID; str(qid) is its file name in every queue directory."""

    value: str = attrs.field(validator=_check)

    @classmethod
    def make(cls, seconds: int, microseconds: int, inode: int) -> "QueueId":
        """Build the ID of a file created at seconds.microseconds with this inode."""
        if not (0 <= seconds < SEC_BASE**SEC_WIDTH and 0 <= microseconds < 1_000_000
                and 0 <= inode < INUM_BASE**14):
            raise ValueError(f"cannot make a queue ID from {seconds}.{microseconds:06d} inode {inode}")
        # in range, so valid by construction: skip the validator (a per-message cost)
        return cls._checked(
            _encode(seconds, SEC_BASE, SEC_WIDTH)
            + _encode(microseconds, USEC_BASE, USEC_WIDTH)
            + SEPARATOR
            + _encode(inode, INUM_BASE)
        )

    @classmethod
    def _checked(cls, value: str) -> "QueueId":
        """An ID whose value the caller has already validated (make(), a scan)."""
        qid = object.__new__(cls)
        object.__setattr__(qid, "value", value)
        return qid

    @classmethod
    def parse(cls, name: str) -> "QueueId | None":
        """The ID a directory entry names, or None (temporary and foreign names)."""
        return cls._checked(name) if _valid(name) else None

    @classmethod
    def from_time(cls, when: float, inode: int) -> "QueueId":
        """Build the ID from a time.time() value and an inode number."""
        micros = round(when * 1_000_000)
        return cls.make(micros // 1_000_000, micros % 1_000_000, inode)

    @property
    def seconds(self) -> int:
        return _decode(self.value[:SEC_WIDTH], SEC_BASE)

    @property
    def microseconds(self) -> int:
        return _decode(self.value[SEC_WIDTH:SEC_WIDTH + USEC_WIDTH], USEC_BASE)

    @property
    def created(self) -> float:
        """The file's creation time as time.time() would give it."""
        return self.seconds + self.microseconds / 1_000_000

    @property
    def inode(self) -> int:
        return _decode(self.value[SEC_WIDTH + USEC_WIDTH + 1:], INUM_BASE)

    def hash_dirs(self, depth: int) -> tuple:
        """Subdirectory names for hash_queue_depth: hex digits of the microseconds.

        Postfix hashes long IDs on their microseconds too, because the leading seconds
        digits change too slowly to spread files over directories.
        """
        return tuple(f"{self.microseconds:05X}"[:depth])

    def __str__(self):
        return self.value


def is_queue_id(name: str) -> bool:
    """Whether a directory entry's name is a well-formed queue ID (temp names are not)."""
    return _valid(name)
