"""Paragraph joining, marker classification, dates, recurrences and events."""

from __future__ import annotations

import pytest

from knowledge.plans.dates import find_deadlines, find_events, find_recurrence, format_date
from knowledge.plans.importer import classify_kind, import_plan
from knowledge.plans.text import split_paragraphs


def test_markers_are_classified() -> None:
    paras = split_paragraphs(
        "IV. TỔ CHỨC THỰC HIỆN\n\n1. Phòng A\n\n1.2. Việc B\n\na) Việc C\n\n"
        "- gạch\n\n+ cộng\n\n• chấm\n\nĐoạn thường."
    )
    got = [(p.kind, p.marker, p.text) for p in paras]
    assert got == [
        ("roman", "IV", "TỔ CHỨC THỰC HIỆN"),
        ("num", "1", "Phòng A"),
        ("num", "1.2", "Việc B"),
        ("letter", "a", "Việc C"),
        ("bullet", "-", "gạch"),
        ("bullet", "+", "cộng"),
        ("bullet", "•", "chấm"),
        ("text", "", "Đoạn thường."),
    ]


def test_lowercase_line_after_blank_line_continues() -> None:
    paras = split_paragraphs("- Xây dựng kế hoạch thực\n\nhiện công tác trẻ em.\n\n- Việc khác.")
    assert [p.text for p in paras] == ["Xây dựng kế hoạch thực hiện công tác trẻ em.", "Việc khác."]


def test_wrapped_number_is_not_an_item() -> None:
    paras = split_paragraphs("- Các đơn vị định kỳ báo cáo\n06 tháng về UBND xã.")
    assert len(paras) == 1 and paras[0].text.endswith("06 tháng về UBND xã.")


def test_markdown_marks_and_footnotes_are_dropped() -> None:
    paras = split_paragraphs(
        "## **2. Trạm Y tế xã**\n\nGiúp trẻ em có hoàn cảnh đặc biệt¹ kịp thời\n\n"
        "¹Thông báo số 1 của Văn phòng.\n\nvà đúng quy định.\n\n12\n"
    )
    assert [(p.kind, p.text) for p in paras] == [
        ("num", "Trạm Y tế xã"),
        ("text", "Giúp trẻ em có hoàn cảnh đặc biệt kịp thời và đúng quy định."),
    ]
    assert paras[0].emph


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("báo cáo 06 tháng (trước ngày 10/5/2026)", "2026-05-10"),
        ("hoàn thành trước ngày 15 tháng 7 năm 2021", "2021-07-15"),
        ("báo cáo năm (trước ngày 25/11)", "--11-25"),
        ("chậm nhất là ngày 05-12-2025", "2025-12-05"),
    ],
)
def test_deadlines(text: str, expected: str) -> None:
    (d,) = find_deadlines(text)
    assert format_date(d.day, d.month, d.year) == expected


def test_reference_dates_are_not_deadlines() -> None:
    assert find_deadlines("Quyết định số 06/QĐ-TTg ngày 03/01/2019 của Thủ tướng") == []
    assert find_deadlines("trước ngày 31/2") == []  # no such day


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hằng tháng, quý thường xuyên kiểm tra", "monthly"),
        ("Tổng hợp số liệu hằng quý", "quarterly"),
        ("định kỳ báo cáo 06 tháng và năm", "semiannual"),
        ("tổ chức hàng năm", "annual"),
        ("tổng hợp báo cáo năm, đánh giá kết quả", "annual"),
        ("được ban hành trong năm 2024", None),
        ("báo cáo năm 2024 về UBND", None),
        ("trẻ em dưới 6 tháng tuổi", None),
        ("định kỳ kiểm tra", None),
    ],
)
def test_recurrence(text: str, expected: str | None) -> None:
    assert find_recurrence(text) == expected


def test_events() -> None:
    events = find_events(
        "Hưởng ứng Ngày Gia đình Việt Nam, Tết Trung thu, Ngày thế giới phòng, chống đuối nước "
        "và Ngày toàn dân phòng, chống mua bán người; lễ khai giảng năm học mới."
    )
    assert {e["name"]: e["date"] for e in events} == {
        "Ngày Gia đình Việt Nam": "--06-28",
        "Tết Trung thu": "lunar:--08-15",
        "Ngày Thế giới phòng, chống đuối nước": "--07-25",
        "Ngày toàn dân phòng, chống mua bán người": "--07-30",
        "Ngày toàn dân đưa trẻ đến trường": "--09-05",
    }


def test_kind() -> None:
    assert classify_kind("Tổ chức tập huấn cho cán bộ") == "training"
    assert classify_kind("Tăng cường kiểm tra, giám sát") == "inspection"
    assert classify_kind("Xây dựng nhà văn hóa") == "other"


MINIMAL = """\
ỦY BAN NHÂN DÂN
HUYỆN SƠN ĐỘNG

Sơn Động, ngày 02 tháng 02 năm 2023

KẾ HOẠCH

II. TỔ CHỨC THỰC HIỆN

1. Phòng Lao động - Thương binh và Xã hội: Chủ trì tổng hợp, báo cáo kết quả về
Sở Lao động - Thương binh và Xã hội trước ngày 20/12/2023.

2. Phòng Giáo dục và Đào tạo

a) Công tác tuyên truyền

Chỉ đạo các trường tuyên truyền phòng, chống đuối nước.

b) Tổ chức dạy bơi cho học sinh trong dịp hè.

3. Chế độ báo cáo

- Các đơn vị báo cáo về Phòng Lao động - Thương binh và Xã hội trước ngày 10/12.

Trên đây là Kế hoạch./.
"""


def test_minimal_district_plan() -> None:
    plan = import_plan(MINIMAL)
    assert plan["issuer"] == "Ủy ban nhân dân huyện Sơn Động"
    assert plan["level"] == "district"
    assert plan["year"] == 2023
    assert [u["name"] for u in plan["units"]] == [
        "Phòng Lao động - Thương binh và Xã hội",
        "Phòng Giáo dục và Đào tạo",
    ]
    first, second = plan["units"]
    assert first["tasks"][0]["deadline"] == "2023-12-20"
    # Sub-item with a body: the body is the task; one-line sub-item: its title is.
    assert [t["text"] for t in second["tasks"]] == [
        "Chỉ đạo các trường tuyên truyền phòng, chống đuối nước.",
        "Tổ chức dạy bơi cho học sinh trong dịp hè.",
    ]
    assert sorted(d["date"] for d in plan["reporting_deadlines"]) == ["--12-10", "2023-12-20"]
    assert plan["events"] == []
