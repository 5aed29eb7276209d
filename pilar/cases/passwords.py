"""Passwords: hashing with argon2id (argon2-cffi's defaults follow RFC 9106), and the rules a new
password must meet (at least PASSWORD_MIN characters, not a common or breached password, not the
username). Passwords set before these rules still sign in: only new ones are checked."""

import gzip
import re
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

PASSWORD_MIN = 12
PASSWORD_MAX = 1024  # sign-in accepts no longer one (pilar/api/schemas/auth.py); argon2 would hash it all
# 40,101 passwords, lowercased: the union of Django's common-passwords list (20,000, Royce Williams'
# list from breach corpora) and zxcvbn's password list (30,000, from the xato 10-million corpus that
# SecLists' 10-million-password-list files are cut from). pilar/cases/data/COMMON_PASSWORDS.md says how.
COMMON_PASSWORDS = Path(__file__).parent / "data" / "common_passwords.txt.gz"
_TAIL = re.compile(r"[\W\d_]+$")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def common_passwords() -> frozenset[str]:
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as lines:
        return frozenset(line.rstrip("\n") for line in lines if line.strip())


def password_problem(password: str, username: str = "") -> str | None:
    """Why `password` may not be set for `username`, or None. Compared case-insensitively: a
    listed password, or one followed only by digits and symbols (`sunshine-2024!`), is refused."""
    if len(password) < PASSWORD_MIN:
        return f"must be at least {PASSWORD_MIN} characters"
    if len(password) > PASSWORD_MAX:
        return f"must be at most {PASSWORD_MAX} characters"
    folded = password.casefold()
    name = username.casefold()
    if name and (folded == name or (len(name) >= 4 and name in folded)):
        return "must not contain the username"
    if len(set(folded)) < 4:
        return "uses too few different characters"
    common = common_passwords()
    if folded in common or _TAIL.sub("", folded) in common:
        return "is a common password (found in lists of breached passwords): choose another"
    return None
