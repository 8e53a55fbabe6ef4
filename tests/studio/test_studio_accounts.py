"""Signing in to the studio: the sign-in file (plain and hashed passwords, checked in constant
time), its refusals in one line with the line number, LONGWRITE_AUTH, and hash-password."""

import pytest
from click.testing import CliRunner

from app.cli import cli
from app.studio.accounts import Accounts, Hashed, hash_password
from engine.errors import UserError


def _file(tmp_path, text: str):
    path = tmp_path / "writers.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_plain_and_hashed_lines_sign_in_their_writers(tmp_path):
    hashed = hash_password("snow and ice")
    accounts = Accounts.read(_file(tmp_path, f"# writers\nann: rain 1\n\nbob:{hashed}\n"))
    assert list(accounts.passwords) == ["ann", "bob"] and accounts.first == "ann"
    assert accounts.check("ann", " rain 1")  # the password exactly as written after the colon
    assert not accounts.check("ann", "rain 1")
    assert accounts.check("bob", "snow and ice")
    assert not accounts.check("bob", "snow and ic")
    assert not accounts.check("bob", hashed)  # the hash itself is no password
    assert not accounts.check("carol", "rain 1")


def test_a_hash_is_salted():
    first, second = hash_password("same"), hash_password("same")
    assert first != second
    assert Hashed.parse(first).matches("same") and Hashed.parse(second).matches("same")


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        ("ann:rain\nbob\n", "error.auth_file_line", 2),
        ("ann:rain\n:nameless\n", "error.auth_file_line", 2),
        ("\n# c\nann:\n", "error.auth_file_line", 3),
        ("ann:rain\nann:snow\n", "error.auth_file_twice", 2),
        ("ann:scrypt$16384$8$1$bm90IGJhc2U2NA$\n", "error.auth_file_hash", 1),
        ("ann:scrypt$3$8$1$c2FsdA==$a2V5\n", "error.auth_file_hash", 1),
        ("ann:scrypt$1073741824$8$1$c2FsdA==$a2V5\n", "error.auth_file_hash", 1),
    ],
)
def test_a_bad_line_is_refused_with_its_number(tmp_path, text, key, line):
    with pytest.raises(UserError) as refused:
        Accounts.read(_file(tmp_path, text))
    assert refused.value.key == key and refused.value.params["line"] == line


def test_a_file_without_writers_is_refused(tmp_path):
    with pytest.raises(UserError, match="lists no writer"):
        Accounts.read(_file(tmp_path, "# nobody yet\n\n"))


def _studio(*args, env=None):
    return CliRunner().invoke(cli, ["studio", "--no-browser", *args], env=env)


def _one_line(result) -> str:
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    message = result.output.strip()
    assert message and "\n" not in message, message
    return message


def test_the_studio_refuses_a_bad_sign_in_file_in_one_line(tmp_path):
    bad = _file(tmp_path, "ann:rain\n\nbob snow\n")
    assert _one_line(_studio("--auth-file", str(bad))) == (
        f"Error: {bad}, line 3: write `user:password` (a name, a colon, a password)."
    )
    missing = tmp_path / "nowhere.txt"
    assert f"No sign-in file at {missing}" in _one_line(_studio("--auth-file", str(missing)))


def test_longwrite_auth_is_read_and_checked_like_auth(tmp_path):
    line = _one_line(_studio(env={"LONGWRITE_AUTH": "no-colon"}))
    assert "LONGWRITE_AUTH" in line and "user:password" in line
    writers = _file(tmp_path, "ann:rain\n")
    both = _studio("--auth-file", str(writers), env={"LONGWRITE_AUTH": "ann:rain"})
    assert "not both" in _one_line(both)


def test_hash_password_prints_a_line_the_sign_in_file_takes(tmp_path):
    result = CliRunner().invoke(cli, ["hash-password"], input="hail\nhail\n")
    assert result.exit_code == 0, result.output
    hashed = result.output.strip().splitlines()[-1]
    assert hashed.startswith("scrypt$") and "hail" not in hashed
    assert Accounts.read(_file(tmp_path, f"ann:{hashed}\n")).check("ann", "hail")
