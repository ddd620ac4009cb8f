"""`bvte plan …`: import a plan document (Kế hoạch) into a reviewable draft."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from knowledge.plans import PlanImportError, import_plan, to_yaml

__all__ = ["plan_app"]

plan_app = typer.Typer(
    help="Kế hoạch công tác trẻ em: nhập văn bản thành bản nháp / plan documents.",
    no_args_is_help=True,
)


@plan_app.callback()
def _plan_group() -> None:
    """Kế hoạch công tác trẻ em / plan documents."""
    # An explicit callback keeps `import` a sub-command even while it is the only one.


def _fail(vi: str, en: str) -> typer.Exit:
    typer.echo(f"Lỗi: {vi} / Error: {en}", err=True)
    return typer.Exit(code=2)


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise _fail(f"không tìm thấy tệp {path}", f"file not found: {path}") from None
    except IsADirectoryError:
        raise _fail(f"{path} là thư mục, không phải tệp", f"{path} is a directory") from None
    except OSError as exc:
        raise _fail(f"không đọc được tệp {path}", f"cannot read {path}: {exc.strerror}") from None
    try:
        return data.decode("utf-8-sig")  # tolerates a BOM
    except UnicodeDecodeError:
        raise _fail(
            f"tệp {path} không phải văn bản UTF-8 (hãy lưu lại dưới dạng .txt UTF-8)",
            f"{path} is not UTF-8 text",
        ) from None


@plan_app.command("import")
def import_cmd(
    file: Path = typer.Argument(..., help="Tệp văn bản kế hoạch (.txt/.md, UTF-8)."),
    as_json: bool = typer.Option(False, "--json", help="In JSON thay cho bản nháp YAML."),
    out: Path | None = typer.Option(None, "--out", help="Ghi kết quả vào tệp này."),
) -> None:
    """Nhập một kế hoạch thành bản nháp YAML để rà soát / import a plan as a YAML draft."""
    text = _read_text(file)
    try:
        plan = import_plan(text)
    except PlanImportError as exc:
        raise _fail("tệp không giống một kế hoạch", f"not a plan document ({exc})") from None
    if not plan["units"]:
        raise _fail(
            "không tìm thấy đơn vị nào trong phần Tổ chức thực hiện",
            "no units found in the implementation section",
        )
    result = json.dumps(plan, ensure_ascii=False, indent=1) + "\n" if as_json else to_yaml(plan)
    if out is None:
        typer.echo(result, nl=False)
        return
    try:
        out.write_text(result, encoding="utf-8")
    except OSError as exc:
        raise _fail(f"không ghi được tệp {out}", f"cannot write {out}: {exc.strerror}") from None
    n_tasks = sum(len(u["tasks"]) for u in plan["units"])
    typer.echo(
        f"Đã ghi {out}: {len(plan['units'])} đơn vị, {n_tasks} nhiệm vụ / "
        f"wrote {out}: {len(plan['units'])} units, {n_tasks} tasks",
        err=True,
    )
