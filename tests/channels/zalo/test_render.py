"""bot.channels.zalo.render: numbered menus and message splitting."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.channels.zalo.render import render_text_with_buttons, reply_hint, split_message

# ------------------------------------------------------------------- menus


def test_three_buttons() -> None:
    text = render_text_with_buttons("Bạn cần gì?", ["Hỏi đáp", "Báo tin", "Số khẩn cấp"])
    assert text == ("Bạn cần gì?\n\n1. Hỏi đáp\n2. Báo tin\n3. Số khẩn cấp\nTrả lời 1, 2 hoặc 3.")


@pytest.mark.parametrize(
    ("count", "hint"),
    [
        (1, "Trả lời 1."),
        (2, "Trả lời 1 hoặc 2."),
        (3, "Trả lời 1, 2 hoặc 3."),
        (4, "Trả lời một số từ 1 đến 4."),
        (7, "Trả lời một số từ 1 đến 7."),
    ],
)
def test_reply_hint(count: int, hint: str) -> None:
    labels = [f"Mục {i}" for i in range(1, count + 1)]
    rendered = render_text_with_buttons("Chọn:", labels)
    assert reply_hint(count) == hint
    assert rendered.endswith("\n" + hint)
    assert rendered.splitlines()[2:-1] == [f"{i}. Mục {i}" for i in range(1, count + 1)]


def test_no_buttons_keeps_text() -> None:
    assert render_text_with_buttons("Chỉ có chữ.  \n", []) == "Chỉ có chữ."


def test_empty_text_gives_only_menu() -> None:
    assert render_text_with_buttons("", ["Có", "Không"]) == "1. Có\n2. Không\nTrả lời 1 hoặc 2."


# --------------------------------------------------------------- splitting


def test_empty_and_blank_input() -> None:
    assert split_message("") == []
    assert split_message(" \n\t\n ") == []


def test_short_text_is_one_chunk() -> None:
    assert split_message("  Xin chào.\n") == ["Xin chào."]
    assert split_message("x" * 2000) == ["x" * 2000]
    assert split_message("x" * 2001) == ["x" * 2000, "x"]


def test_prefers_paragraph_boundaries() -> None:
    text = "Đoạn một dòng một.\nDòng hai.\n\nĐoạn hai. Câu nữa."
    assert split_message(text, limit=40) == ["Đoạn một dòng một.\nDòng hai.", "Đoạn hai. Câu nữa."]


def test_then_line_breaks() -> None:
    text = "dòng thứ nhất\ndòng thứ hai\ndòng thứ ba"
    assert split_message(text, limit=30) == ["dòng thứ nhất\ndòng thứ hai", "dòng thứ ba"]


def test_then_sentence_ends() -> None:
    text = "Câu thứ nhất. Câu thứ hai! Câu thứ ba?"
    assert split_message(text, limit=30) == ["Câu thứ nhất. Câu thứ hai!", "Câu thứ ba?"]


def test_then_spaces() -> None:
    text = "một hai ba bốn năm sáu bảy tám"
    assert split_message(text, limit=12) == ["một hai ba", "bốn năm sáu", "bảy tám"]


def test_hard_cut_last() -> None:
    assert split_message("abcdefghij", limit=4) == ["abcd", "efgh", "ij"]


def test_hard_cut_keeps_combining_marks_with_their_letter() -> None:
    word = unicodedata.normalize("NFD", "trẻ")  # t r e + combining hook above
    assert len(word) == 4
    chunks = split_message(word * 2, limit=3)
    assert chunks == ["tr", "e\u0309t", "re\u0309"]
    assert all(not unicodedata.combining(chunk[0]) for chunk in chunks)
    assert "".join(chunks) == word * 2


def test_rejects_bad_limit() -> None:
    with pytest.raises(ValueError):
        split_message("abc", limit=0)


_ALPHABET = st.sampled_from(list('ab cđ ẻ ế.!?…\n\n\t\r" ”)') + ["e\u0301", "  ", "\n \n"])
_TEXT = st.lists(_ALPHABET, max_size=400).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=_TEXT | st.text(max_size=300), limit=st.integers(min_value=1, max_value=60))
def test_split_properties(text: str, limit: int) -> None:
    chunks = split_message(text, limit)
    assert all(0 < len(chunk) <= limit for chunk in chunks)
    assert all(chunk.strip() for chunk in chunks)
    # Chunks appear in order and only whitespace lies between or around them.
    position = 0
    for chunk in chunks:
        found = text.find(chunk, position)
        assert found >= 0
        assert text[position:found].strip() == ""
        position = found + len(chunk)
    assert text[position:].strip() == ""
    if text.strip():
        assert chunks


@settings(max_examples=100, deadline=None)
@given(text=_TEXT)
def test_no_non_whitespace_is_lost(text: str) -> None:
    def squeeze(value: str) -> str:
        return "".join(ch for ch in value if not ch.isspace())

    assert squeeze("".join(split_message(text, 25))) == squeeze(text)
