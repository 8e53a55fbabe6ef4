"""The message catalogue: every key in both languages with the same placeholders, the reader's
language from the locale or the browser, UserErrors in either language, and the CLI in Chinese."""

import pytest

from engine import messages
from engine.errors import UserError
from engine.store.safe_names import MAX_STEM_BYTES, file_stem
from tests.conftest import run_cli


def test_every_key_is_in_both_languages_with_the_same_placeholders():
    english = messages.phrasebook(messages.ENGLISH)
    chinese = messages.phrasebook(messages.CHINESE)
    assert set(english) == set(chinese), set(english) ^ set(chinese)
    for key, text in english.items():
        assert chinese[key].strip(), key
        assert messages.placeholders(text) == messages.placeholders(chinese[key]), key


@pytest.mark.parametrize(
    "tag, language",
    [("zh_CN.UTF-8", "zh-CN"), ("zh-Hans", "zh-CN"), ("en_GB.UTF-8", "en"), ("C", "en")],
)
def test_locale_names_map_to_a_language(tag, language):
    assert messages.language_of_tag(tag) == language


def test_browser_header_picks_the_first_supported_language():
    assert messages.language_from_header("fr-FR,zh-CN;q=0.9,en;q=0.8") == "zh-CN"
    assert messages.language_from_header("en-US,zh;q=0.5") == "en"
    assert messages.language_from_header(None) == "en"


def test_user_error_is_english_in_logs_and_chinese_on_request():
    error = UserError(key="error.project_exists", name="灯塔")
    assert str(error) == "A project named '灯塔' exists already; choose another name."
    assert error.text("zh-CN") == "已有名为「灯塔」的项目，请换一个名字。"
    assert UserError("plain").text("zh-CN") == "plain"


@pytest.fixture
def chinese_locale(monkeypatch):
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)


def test_chinese_locale_gives_a_chinese_one_line_error_and_exit_2(chinese_locale):
    result = run_cli("write", "一个故事", "--words", "0", timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == "错误：目标字数必须是正数，例如 --words 3000。"


def test_lang_option_overrides_the_locale(chinese_locale):
    result = run_cli("--lang", "en", "write", "a story", "--words", "-4", timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("Error: The word target must be a positive number")


def test_all_chinese_project_name_stays_readable_within_the_byte_cap():
    assert file_stem("灯塔看守人的故事：第一卷") == "灯塔看守人的故事：第一卷"
    long_name = "长" * 200
    stem = file_stem(long_name)
    assert len(stem.encode("utf-8")) <= MAX_STEM_BYTES
    assert stem.startswith("长" * 20) and stem != file_stem("长" * 199)


def test_a_database_error_reads_whole_in_chinese_its_phrase_included(tmp_path):
    """A message whose value is itself a message (the database's description) reads in one
    language throughout."""
    import sqlite3

    from engine.store.backup import database_error

    db = tmp_path / "longwrite.db"
    error = database_error(db, sqlite3.OperationalError("database is locked"))
    assert str(error) == (
        f"Cannot use the database {db}: another process holds it (database is locked); "
        "try again in a moment."
    )
    assert (
        error.text("zh-CN")
        == f"无法使用数据库 {db}：另一个进程正占用它（database is locked）；请稍后再试。"
    )
