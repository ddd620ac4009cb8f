"""What a writer told just before pressing "Báo tin (khẩn)" becomes the report's story."""

from __future__ import annotations

from pathlib import Path

COMMUNES = str(Path(__file__).resolve().parents[2] / "examples" / "communes.yaml")
STORY = "cứu với, bố nó đang đánh con bé nhà số 7 chảy máu đầu"


def _all_text(out):
    return "\n".join(o.get("text", "") for o in out)


async def test_emergency_text_is_carried_into_the_urgent_report(sim):
    await sim.send({"cli": ["commune", "load", COMMUNES]})
    await sim.say("rep", "/start quan-son")
    out = await sim.say("rep", STORY)
    assert "Báo tin khẩn" in out[-1]["buttons"]
    out = await sim.press("rep", "Báo tin khẩn")
    assert "113" in _all_text(out)
    out = await sim.press("rep", "Thôn 1")
    assert "chảy máu đầu" in _all_text(out)  # the summary to confirm quotes the story


async def test_old_story_is_not_reused(sim):
    await sim.send({"cli": ["commune", "load", COMMUNES]})
    await sim.say("rep", "/start quan-son")
    await sim.say("rep", STORY)
    await sim.send({"advance": "PT2H"})
    await sim.press("rep", "Báo tin khẩn")
    out = await sim.press("rep", "Thôn 1")
    assert "chảy máu đầu" not in _all_text(out)
