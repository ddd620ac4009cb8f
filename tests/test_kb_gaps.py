"""Unanswered questions and feedback reach curators through `bvte kb gaps`."""

from __future__ import annotations


async def test_gaps_and_feedback_listed(sim):
    await sim.say("u1", "/start")
    await sim.press("u1", "Hỏi đáp")
    await sim.say("u1", "cách nấu phở bò cho ngon")  # nothing in the knowledge base
    await sim.say("u1", "sơ cứu trẻ đuối nước thế nào")
    out = await sim.press("u1", "👍 Hữu ích")
    assert "Cảm ơn" in out[-1]["text"]
    out = await sim.send({"cli": ["kb", "gaps"]})
    listing = out[0]["cli_output"]
    assert "phở bò" in listing
    assert "👍" in listing and "1 👍" in listing
    # no user identity is stored with the gap
    assert "u1" not in listing
