"""Acceptance through `python -m bot sim` (a real subprocess, JSON lines):

  user reports -> the officers' group gets "Nhận xử lý" -> an officer claims ->
  the reporter's /theodoi shows "đang xử lý" -> the officer closes -> /theodoi
  shows "đã đóng"; and an unclaimed urgent case escalates to the supervisors after
  15 minutes and to the province after the next interval, each exactly once.

The same script works by hand: see `SCRIPT` below, one JSON object a line, with
the invite codes printed by the {"cli": [...]} lines.
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


class SimProcess:
    def __init__(self, cwd: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BVTE_")}
        env["PYTHONPATH"] = str(REPO)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "sim"], cwd=cwd, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            encoding="utf-8",
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.count = 0

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def send(self, obj: dict[str, Any]) -> list[dict[str, Any]]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(obj, ensure_ascii=False) + "\n")
        self.proc.stdin.flush()
        self.count += 1
        out = []
        while True:
            item = json.loads(self.lines.get(timeout=60))
            if item.get("done") == self.count:
                return out
            assert "error" not in item, item
            out.append(item)

    def invite(self, commune: str, role: str) -> str:
        out = self.send({"cli": ["officer", "invite", "--commune", commune, "--role", role]})
        return out[0]["cli_output"].splitlines()[0]

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


@pytest.fixture
def simproc(tmp_path: Path):
    proc = SimProcess(tmp_path)
    try:
        yield proc
    finally:
        proc.close()


def _texts(out: list[dict], chat: str) -> list[str]:
    return [o["text"] for o in out if o["chat"] == chat]


def _register(sim: SimProcess) -> None:
    for user, commune, role in (("sup", "quan-son", "supervisor"), ("off", "quan-son", "officer"),
                                ("prov", "tp-lang-son", "province")):
        code = sim.invite(commune, role)
        assert re.fullmatch(r"[2-9A-HJ-NP-Z]{8}", code)
        out = sim.send({"from": user, "text": f"/dangky {code}"})
        assert "Đã đăng ký" in out[0]["text"]
    code = sim.invite("quan-son", "officer")
    out = sim.send({"from": "sup", "chat": "grp", "text": f"/nhom {code}"})
    assert "Xã Quan Sơn" in out[0]["text"]


def test_report_claim_follow_close(simproc: SimProcess) -> None:
    sim = simproc
    _register(sim)
    sim.send({"from": "rep", "text": "/start quan-son"})
    sim.send({"from": "rep", "press": "Báo tin"})
    sim.send({"from": "rep", "text": "Cháu bé nhà bên bị bố đánh liên tục, người đầy vết bầm."})
    sim.send({"from": "rep", "press": "Bạo lực"})
    sim.send({"from": "rep", "press": "Không"})
    sim.send({"from": "rep", "press": "11–15 tuổi"})
    sim.send({"from": "rep", "press": "Thôn 3"})
    sim.send({"from": "rep", "press": "Hôm nay"})
    sim.send({"from": "rep", "press": "Hàng xóm"})
    out = sim.send({"from": "rep", "press": "Giấu tên"})
    assert out[-1]["text"].startswith("Bạn kiểm tra lại tin báo")
    out = sim.send({"from": "rep", "press": "Gửi tin báo"})
    group = [o for o in out if o["chat"] == "grp"]
    assert len(group) == 1 and "Nhận xử lý" in group[0]["buttons"]
    code = re.search(r"BV-[2-9A-HJ-NP-Z]{6}", group[0]["text"]).group(0)
    assert any(code in t for t in _texts(out, "rep"))
    out = sim.send({"from": "rep", "text": f"/theodoi {code}"})
    assert "đã tiếp nhận" in out[0]["text"]
    out = sim.send({"from": "off", "chat": "grp", "press": "Nhận xử lý"})
    assert any("vết bầm" in t for t in _texts(out, "off"))
    assert all("vết bầm" not in t for t in _texts(out, "grp"))
    out = sim.send({"from": "rep", "text": f"/theodoi {code}"})
    assert "đang xử lý" in out[0]["text"]
    out = sim.send({"from": "off", "press": "Đóng ca"})
    out = sim.send({"from": "off", "press": "Đồng ý đóng ca"})
    assert any("đã đóng" in t for t in _texts(out, "off"))
    out = sim.send({"from": "rep", "text": f"/theodoi {code}"})
    assert "đã đóng" in out[0]["text"]


def test_unclaimed_urgent_case_escalates_once_per_level(simproc: SimProcess) -> None:
    sim = simproc
    _register(sim)
    sim.send({"from": "rep", "text": "/start quan-son"})
    out = sim.send({"from": "rep", "text": "cứu với, bố nó đang đánh con bé chảy máu"})
    assert "Báo tin khẩn" in out[0]["buttons"]
    out = sim.send({"from": "rep", "press": "Báo tin khẩn"})
    assert "113" in out[0]["text"]
    sim.send({"from": "rep", "press": "Thôn 1"})
    out = sim.send({"from": "rep", "press": "Gửi tin báo"})
    assert any("TIN KHẨN" in t for t in _texts(out, "grp"))
    seen: list[dict] = []
    out = sim.send({"advance": "PT14M"})
    assert [o for o in out if "⏰" in o["text"]] == []
    for step in ("PT2M", "PT15M", "PT1H", "PT6H"):
        seen += sim.send({"advance": step})
    alerts = [(o["chat"], o["text"]) for o in seen if "⏰" in o["text"] and "hạn nhận" in o["text"]]
    assert [c for c, _ in alerts] == ["sup", "prov"]
