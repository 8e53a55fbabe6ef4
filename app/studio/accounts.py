"""Who may sign in to the studio: writers read from a sign-in file (one `user:password` line each,
the password plain or as a scrypt hash) or one `user:password` pair, checked in constant time.

A hashed line reads `user:scrypt$<n>$<r>$<p>$<salt>$<key>` (salt and key base64), as
`longwrite hash-password` prints it. The first writer is the one who keeps the projects made
before the studio had sign-in.
"""

import base64
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path

from engine.errors import UserError

HASH_PREFIX = "scrypt$"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1  # about 16 MiB and a few dozen ms per check
SALT_BYTES, KEY_BYTES = 16, 32
MAX_SCRYPT_N = 2**20  # a hash asking for more memory than this is refused, not computed


def hash_password(password: str) -> str:
    """A salted scrypt hash of the password, as a sign-in file line keeps it."""
    salt = secrets.token_bytes(SALT_BYTES)
    key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    encoded = [base64.b64encode(part).decode() for part in (salt, key)]
    return f"{HASH_PREFIX}{SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encoded[0]}${encoded[1]}"


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    memory = 128 * r * (n + p + 2)
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=memory + 2**20, dklen=KEY_BYTES
    )


@dataclass(frozen=True)
class Hashed:
    """A stored scrypt hash: its parameters, salt and key."""

    n: int
    r: int
    p: int
    salt: bytes
    key: bytes

    @classmethod
    def parse(cls, value: str) -> "Hashed":
        """The hash in `value` (which starts with HASH_PREFIX); ValueError when malformed."""
        n, r, p, salt, key = value.removeprefix(HASH_PREFIX).split("$")
        hashed = cls(int(n), int(r), int(p), base64.b64decode(salt), base64.b64decode(key))
        if not (1 < hashed.n <= MAX_SCRYPT_N and hashed.n & (hashed.n - 1) == 0):
            raise ValueError("n must be a power of two")
        if not (0 < hashed.r <= 32 and 0 < hashed.p <= 16 and hashed.salt and hashed.key):
            raise ValueError("bad parameters")
        return hashed

    def matches(self, password: str) -> bool:
        return hmac.compare_digest(_scrypt(password, self.salt, self.n, self.r, self.p), self.key)


@functools.cache
def _nobody() -> Hashed:
    """What an unknown name is checked against, so it takes as long as a wrong password."""
    return Hashed.parse(hash_password(secrets.token_hex(16)))


@dataclass(frozen=True)
class Accounts:
    """The writers who may sign in, in the order given, with their password or its hash."""

    passwords: dict[str, str | Hashed]

    @property
    def first(self) -> str:
        return next(iter(self.passwords))

    def check(self, user: str, password: str) -> bool:
        """Gradio's sign-in check: whether `password` is this writer's (constant time)."""
        stored = self.passwords.get(user)
        if isinstance(stored, str):
            return hmac.compare_digest(password.encode(), stored.encode())
        return (stored or _nobody()).matches(password) and stored is not None

    @classmethod
    def of_pair(cls, value: str) -> "Accounts":
        """One writer from `user:password` (--auth, LONGWRITE_AUTH)."""
        user, password = _split(value)
        if user is None:
            raise UserError(key="error.auth_format")
        return cls({user: password})

    @classmethod
    def read(cls, path: str | Path) -> "Accounts":
        """The writers of a sign-in file; a bad line is refused with its number."""
        path = Path(path).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UserError(key="error.auth_file_missing", path=path) from None
        except (OSError, UnicodeDecodeError) as error:
            raise UserError(key="error.auth_file_unreadable", path=path, problem=error) from None
        passwords: dict[str, str | Hashed] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            user, password = _split(line)
            if user is None:
                raise UserError(key="error.auth_file_line", path=path, line=number)
            if user in passwords:
                raise UserError(key="error.auth_file_twice", path=path, line=number, user=user)
            passwords[user] = _stored(password, path, number)
        if not passwords:
            raise UserError(key="error.auth_file_empty", path=path)
        return cls(passwords)


def _split(line: str) -> tuple[str | None, str]:
    """(user, password) of a `user:password` line; user None when either is missing. The name
    is stripped, as Gradio's sign-in page strips what is typed; the password is kept as is."""
    user, sep, password = line.partition(":")
    user = user.strip()
    return (user, password) if sep and user and password else (None, "")


def _stored(password: str, path: Path, number: int) -> str | Hashed:
    if not password.startswith(HASH_PREFIX):
        return password
    try:
        return Hashed.parse(password.strip())
    except ValueError:  # int(), base64 and the unpacking all raise ValueError (or a subclass)
        raise UserError(key="error.auth_file_hash", path=path, line=number) from None
