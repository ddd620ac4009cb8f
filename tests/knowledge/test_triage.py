"""Triage tables: hard pairs both ways (a concrete event vs a how-to question)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from knowledge.triage import triage

EMERGENCY = [
    "cứu con với",
    "Bố đang đánh mẹ con em, cứu với",
    "con tôi đi học chưa về, mất liên lạc từ chiều",
    "e muốn chết, ko muốn sống nữa",
    "bé nhà tôi rơi xuống ao, vớt lên không thở",
    "có người lạ vừa lôi con bé lên ô tô chạy mất",
    "em bị nhốt trong kho, em sợ lắm",
    "tối nay bố say về sẽ đánh chết em",
    "con tôi nuốt phải pin, đang khóc thét",
]
DISCLOSURE = [
    "Con tôi bị ông hàng xóm sờ vào chỗ kín",
    "con e bị tụi lớp trên đánh hội đồng mấy tuần nay",
    "bố em hay say rượu rồi đánh em",
    "Có người lạ trên mạng đòi con gái tôi gửi ảnh nóng",
    "năm ngoái em bị anh họ xâm hại, em chưa dám kể với ai",
    "Con tôi bị bạn đánh ở trường, tôi nên làm gì?",
    "cháu tôi bị bố mẹ bỏ đói, tối phải ngủ ngoài chuồng bò",
    "em bị thầy chủ nhiệm nhắn tin gạ gẫm",
]
# Regional and euphemistic phrasings (written for these tests, not taken from eval sets).
DISCLOSURE_VARIANTS = [
    "ba tui uýnh tui bằng cây, lưng bầm hết",
    "mẹ kế hay nện con bé bằng roi mây",
    "thầy dạy thêm sàm sỡ em",
    "anh họ đụng chạm vùng kín của con bé",
    "dượng cho em xem phim người lớn",
    "chú bảo em giữ bí mật rồi cho em tiền",
    "bé Na bị dì ghẻ nhốt trong nhà vệ sinh",
    "ba dọa giết em nếu em nói với ai",
    "có người rủ em sang Trung Quốc làm việc lương cao",
    "có thằng nhắn tin cho con em đòi xem chỗ đó",
    "em lỡ gửi ảnh cho người ta giờ họ đòi tiền không thì đăng lên",
    "e mới lớp 7 mà bố bắt đi làm phụ hồ, ko làm là ăn đòn",
    "chú tài xế xe đưa đón hay sờ đùi con bé",
]
EMERGENCY_VARIANTS = [
    "em muốn biến mất",
    "vĩnh biệt mọi người",
    "em đứng trên sân thượng rồi",
    "mai em đi rồi, mọi người đừng tìm em",
    "giúp em với, chú ấy đang đứng ngoài cửa phòng em",
    "con bé nhà bên lại bị đánh, đang la hét kìa",
    "tụi nó hẹn tan học sẽ chặn đánh em",
]
GUIDANCE = [
    "trẻ chứng kiến bố mẹ đánh nhau có ảnh hưởng gì",
    "con ko nghe lời, xử lý sao cho khỏi phải đánh",
    "dấu hiệu con đang bị người lạ trên mạng thao túng",
    "kẻ xấu trên mạng hay làm quen với trẻ kiểu gì",
    "Nên làm gì khi con bị bạn đánh ở trường?",
    "Làm sao biết con bị xâm hại?",
    "dấu hiệu trẻ bị bạo hành là gì",
    "nếu con bị người lạ nhắn tin đòi ảnh thì phải làm gì",
    "có nên đánh con khi con hư không",
    "tôi sợ con bị bắt cóc khi đi học một mình",
    "cách sơ cứu khi trẻ bị đuối nước",
    "trẻ mất tích thì báo cho ai",
    "hiếp dâm trẻ em bị phạt bao nhiêu năm tù",
    "tại sao trẻ bị xâm hại thường không dám kể",
    "con tôi hay nói dối, tôi phải làm sao",
    "vớt trẻ lên rồi thì làm gì trước",
    "tố giác ở đâu, có bị lộ danh tính không",
]
REPORT = ["muốn tố giác", "toi can bao cao 1 truong hop", "cho tôi báo vụ việc", "gửi tố giác"]
SMALLTALK = ["chào bạn", "cam on ban nhieu", "bạn là ai", "ok", "👍", "bot ơi"]


@pytest.mark.parametrize("text", EMERGENCY)
def test_emergency(text: str) -> None:
    assert triage(text).intent == "emergency", triage(text)


@pytest.mark.parametrize("text", DISCLOSURE)
def test_disclosure(text: str) -> None:
    assert triage(text).intent == "disclosure", triage(text)


@pytest.mark.parametrize("text", DISCLOSURE_VARIANTS)
def test_disclosure_variants_are_safety(text: str) -> None:
    assert triage(text).intent in {"emergency", "disclosure"}, triage(text)


@pytest.mark.parametrize("text", EMERGENCY_VARIANTS)
def test_emergency_variants(text: str) -> None:
    assert triage(text).intent == "emergency", triage(text)


@pytest.mark.parametrize("text", GUIDANCE)
def test_guidance_goes_to_retrieval(text: str) -> None:
    assert triage(text).intent is None, triage(text)


@pytest.mark.parametrize("text", REPORT)
def test_report(text: str) -> None:
    assert triage(text).intent == "report", triage(text)


@pytest.mark.parametrize("text", SMALLTALK)
def test_smalltalk(text: str) -> None:
    assert triage(text).intent == "smalltalk", triage(text)


@pytest.mark.parametrize(("event", "question"), [
    ("con tôi bị bắt nạt trên mạng mấy hôm nay", "làm sao để con không bị bắt nạt trên mạng"),
    ("em bị chú sờ vào người", "dạy con nói không khi bị sờ vào người"),
    ("con gái tôi đang bị người lạ tống tiền bằng ảnh", "phòng tránh bị tống tiền bằng ảnh"),
])
def test_hard_pairs(event: str, question: str) -> None:
    assert triage(event).intent in {"emergency", "disclosure"}
    assert triage(question).intent is None


def test_reasons_and_score() -> None:
    result = triage("Con tôi bị ông hàng xóm sờ vào chỗ kín")
    assert 0.0 < result.score <= 1.0
    assert "harm" in result.reasons and "concrete-person" in result.reasons


def test_empty_is_fallback() -> None:
    assert triage("   ...  ").intent == "fallback"


@settings(max_examples=300)
@given(st.text())
def test_never_raises(text: str) -> None:
    result = triage(text)
    assert 0.0 <= result.score <= 1.0
