"""The `bvte` command as a user runs it: console chat, simulator, configuration errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def bvte(*args: str, stdin: str = "", cwd: Path, env: dict[str, str] | None = None,
         timeout: float = 120) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("BVTE_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, text=True,
        cwd=cwd, env=full_env, timeout=timeout,
    )


def test_chat_greets_and_exits_at_end_of_input(tmp_path: Path):
    result = bvte("chat", stdin="xin chào\n", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for label in ("Hỏi đáp", "Báo tin", "Số khẩn cấp"):
        assert label in result.stdout
    assert (tmp_path / "bvte.db").exists()  # the embedded default database


def test_chat_sos(tmp_path: Path):
    result = bvte("chat", stdin="/sos\n", cwd=tmp_path)
    assert result.returncode == 0
    for number in ("111", "113", "115"):
        assert number in result.stdout


def test_sim_contract(tmp_path: Path):
    lines = '{"from":"u1","text":"xin chào"}\n{"from":"u1","press":"Số khẩn cấp"}\n'
    result = bvte("sim", stdin=lines, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert out[-1] == {"done": 2}
    assert "111" in out[-2]["text"]
    assert {"to", "chat", "text", "buttons"} <= set(out[0])


def test_sim_not_json(tmp_path: Path):
    result = bvte("sim", stdin="not json\n", cwd=tmp_path)
    assert result.returncode == 0
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len([o for o in out if "error" in o]) == 1
    assert out[-1] == {"done": 1}


@pytest.mark.parametrize("bad", ["not a url", "mysql://x@y/z", "postgresql://u@h:notaport/db"])
def test_malformed_database_url(tmp_path: Path, bad: str):
    result = bvte("chat", stdin="xin chào\n", cwd=tmp_path, env={"BVTE_DATABASE_URL": bad})
    assert result.returncode != 0
    err = result.stderr.strip()
    assert "BVTE_DATABASE_URL" in err
    assert "Traceback" not in result.stderr + result.stdout
    assert len(err.splitlines()) == 1


def test_bad_timezone_named(tmp_path: Path):
    result = bvte("sim", cwd=tmp_path, env={"BVTE_TIMEZONE": "Mars/Olympus"})
    assert result.returncode != 0 and "BVTE_TIMEZONE" in result.stderr
    assert "Traceback" not in result.stderr


def test_version(tmp_path: Path):
    result = bvte("--version", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("bvte ")


def test_run_without_channels_explains(tmp_path: Path):
    result = bvte("run", cwd=tmp_path)
    assert result.returncode == 2
    assert "BVTE_TELEGRAM_TOKEN" in result.stdout + result.stderr
