"""`bvte ask`: the measurement contract of issue #3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def _ask(*args: str, stdin: str = "", cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BVTE_")}
    return subprocess.run([sys.executable, "-m", "bot", "ask", *args], input=stdin,
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


def test_ask_json_acceptance_lines(tmp_path: Path):
    r = _ask("--json", "con toi 5 tuoi, lam sao day con tu bao ve ban than", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert set(obj) == {"intent", "topic", "entry_id", "score", "reply"}
    assert obj["intent"] == "guidance" and obj["topic"] == "body_safety"
    assert isinstance(obj["score"], float) and obj["reply"]
    r = _ask("--json", "cuu con voi bo dang danh me", cwd=tmp_path)
    obj = json.loads(r.stdout)
    assert obj["intent"] == "emergency"
    for number in ("113", "115", "111"):
        assert number in obj["reply"]


def test_ask_jsonl_keeps_order_and_ignores_other_keys(tmp_path: Path):
    lines = "\n".join(json.dumps({"text": t, "id": i}, ensure_ascii=False) for i, t in enumerate(
        ["xin chào", "so cuu duoi nuoc the nao", "em khong muon song nua"])) + "\n"
    r = _ask("--jsonl", stdin=lines, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = [json.loads(x) for x in r.stdout.splitlines()]
    assert [o["intent"] for o in out] == ["smalltalk", "guidance", "emergency"]
    assert out[1]["topic"] == "drowning_first_aid"
    assert all("111" in o["reply"] for o in out[1:])


def test_ask_plain_prints_reply(tmp_path: Path):
    r = _ask("/sos", cwd=tmp_path)
    assert r.returncode == 0 and "113" in r.stdout
