"""`bvte plan …`: import a plan document (Kế hoạch) into a reviewable draft, load a
reviewed draft, list plans; `bvte unit assign`: officers of a unit."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from bot.cli_support import now as _now
from bot.cli_support import run_in_transaction as _db
from knowledge.plans import PlanImportError, import_plan, to_yaml

__all__ = ["plan_app", "unit_app"]

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


# -- loading reviewed drafts, units and their officers ---------------------------------
unit_app = typer.Typer(
    help="Đơn vị thực hiện kế hoạch và cán bộ của đơn vị / plan units and their officers.",
    no_args_is_help=True,
)


@unit_app.callback()
def _unit_group() -> None:
    """Đơn vị và cán bộ / units and officers."""


class _Refused(Exception):
    def __init__(self, vi: str, en: str) -> None:
        super().__init__(en)
        self.vi, self.en = vi, en


@plan_app.command("load")
def load_cmd(
    file: Path = typer.Argument(..., help="Bản nháp YAML đã rà soát (từ `bvte plan import`)."),
    commune: str = typer.Option(..., "--commune", help="Mã xã (slug), ví dụ quan-son."),
    replace: bool = typer.Option(False, "--replace", help="Thay kế hoạch cùng năm đã nạp."),
) -> None:
    """Nạp bản nháp đã rà soát thành nhiệm vụ và lịch nhắc / load a reviewed draft.

    A malformed file is refused with its line and the reason; nothing is written
    unless everything is (one transaction)."""
    from handlers.plans.tasks import PlanLoadError, line_of, load_plan
    from knowledge.plans import DraftError, parse_draft
    from storage.repositories import hotline as hl_repo

    text = _read_text(file)
    try:
        draft = parse_draft(text)
    except DraftError as exc:
        raise _fail(f"{file}: dòng {exc.line}: {exc.reason}",
                    f"{file}: line {exc.line}: malformed draft") from None

    async def work(session, settings):
        row = await hl_repo.commune_by_slug(session, slug=commune)
        if row is None:
            raise _Refused(f"không có xã {commune} (nạp bằng `bvte commune load`)",
                           f"unknown commune {commune}")
        return await load_plan(session, draft=draft, commune_id=row.id, now=_now(),
                               source=file.name, replace=replace)

    try:
        result = _db(work)
    except PlanLoadError as exc:
        line = line_of(text, exc.loc) if exc.loc else 0
        where = f"dòng {line}: " if line else ""
        raise _fail(f"{file}: {where}{exc.reason}",
                    f"{file}: {'line ' + str(line) + ': ' if line else ''}plan not loaded") from None
    except _Refused as exc:
        raise _fail(exc.vi, exc.en) from None
    typer.echo(
        f"Đã nạp kế hoạch #{result.plan.id} năm {result.plan.year} cho xã {commune}: "
        f"{len(result.units)} đơn vị ({result.new_units} mới), {result.tasks} nhiệm vụ, "
        f"{result.occurrences} mốc hạn / loaded plan #{result.plan.id}: {len(result.units)} units, "
        f"{result.tasks} tasks, {result.occurrences} due dates"
    )
    unassigned = [u.name for u in result.units]
    if unassigned:
        typer.echo("Giao cán bộ cho đơn vị: bvte unit assign --commune "
                   f"{commune} --unit \"TÊN\" --officer MÃ_CÁN_BỘ", err=True)


@plan_app.command("list")
def list_cmd(
    commune: str | None = typer.Option(None, "--commune", help="Chỉ xã này (slug)."),
) -> None:
    """Danh sách kế hoạch đã nạp / list loaded plans."""
    from storage.repositories import hotline as hl_repo
    from storage.repositories import plans as repo

    async def work(session, settings):
        communes = {c.id: c for c in await hl_repo.communes(session)}
        wanted = None
        if commune is not None:
            found = [c for c in communes.values() if c.slug == commune]
            if not found:
                raise _Refused(f"không có xã {commune}", f"unknown commune {commune}")
            wanted = found[0].id
        lines = []
        for plan in await repo.plans_of(session, commune_id=wanted):
            tasks = [t for t in await repo.tasks_of_commune(session, commune_id=plan.commune_id)
                     if t.plan_id == plan.id]
            occ = [o for o, t in await repo.occurrences_for_commune(
                session, commune_id=plan.commune_id) if t.plan_id == plan.id]
            done = sum(1 for o in occ if o.state == "done")
            slug = communes[plan.commune_id].slug if plan.commune_id in communes else "?"
            state = "đang dùng" if plan.active else "đã thay"
            lines.append(f"#{plan.id}\t{slug}\t{plan.year}\t{state}\t{len(tasks)} nhiệm vụ\t"
                         f"{done}/{len(occ)} mốc đã xong\t{plan.issuer}")
        return lines

    try:
        lines = _db(work)
    except _Refused as exc:
        raise _fail(exc.vi, exc.en) from None
    if not lines:
        typer.echo("Chưa có kế hoạch nào / no plans loaded")
    for line in lines:
        typer.echo(line)


@plan_app.command("owner")
def owner_cmd(
    occurrence: int = typer.Argument(..., help="Mã việc (#số trong /viec hoặc tin nhắc)."),
    officer: str = typer.Option(..., "--officer", help="Mã cán bộ, hoặc user key."),
) -> None:
    """Giao riêng một nhiệm vụ cho một cán bộ / make one officer the task's owner."""
    from handlers.plans.tasks import find_officer
    from storage.repositories import plans as repo

    async def work(session, settings):
        found = await repo.occurrence_with_task(session, occurrence_id=occurrence)
        if found is None:
            raise _Refused(f"không có việc #{occurrence}", f"no task #{occurrence}")
        _occ, task, _plan = found
        person = await find_officer(session, ref=officer)
        if person is None or person.commune_id != task.commune_id:
            raise _Refused(f"không có cán bộ {officer} ở xã này", f"no officer {officer} there")
        task.owner_officer_id = person.id
        await repo.add_event(session, at=_now(), action="owner", commune_id=task.commune_id,
                             officer_id=person.id, detail=f"task {task.id}")
        return task.id, person.id

    try:
        task_id, officer_id = _db(work)
    except _Refused as exc:
        raise _fail(exc.vi, exc.en) from None
    typer.echo(f"Nhiệm vụ {task_id} giao cho cán bộ #{officer_id} / task {task_id} -> officer {officer_id}")


@unit_app.command("assign")
def unit_assign(
    commune: str = typer.Option(..., "--commune", help="Mã xã (slug)."),
    unit: str = typer.Option(..., "--unit", help="Tên đơn vị, như trong kế hoạch."),
    officer: str = typer.Option(..., "--officer", help="Mã cán bộ (số), user key, hoặc kênh:user key."),
    create: bool = typer.Option(False, "--create", help="Tạo đơn vị nếu chưa có."),
) -> None:
    """Đưa cán bộ vào một đơn vị / make an officer a member of a unit."""
    from handlers.plans.tasks import assign_unit, find_officer
    from storage.repositories import hotline as hl_repo
    from storage.repositories import plans as repo

    async def work(session, settings):
        row = await hl_repo.commune_by_slug(session, slug=commune)
        if row is None:
            raise _Refused(f"không có xã {commune}", f"unknown commune {commune}")
        person = await find_officer(session, ref=officer)
        if person is None:
            raise _Refused(f"không tìm thấy cán bộ {officer} (cán bộ đăng ký bằng /dangky)",
                           f"no officer {officer}")
        if person.commune_id != row.id:
            raise _Refused(f"cán bộ {officer} không thuộc xã {commune}",
                           f"officer {officer} is not in {commune}")
        try:
            found, added = await assign_unit(session, commune_id=row.id, unit_name=unit,
                                             officer=person, now=_now(), create=create)
        except LookupError:
            names = "; ".join(u.name for u in await repo.units_of(session, commune_id=row.id))
            raise _Refused(f"không có đơn vị «{unit}». Các đơn vị: {names or '(chưa có)'}",
                           f"no unit {unit!r} (use --create to add it)") from None
        return found.name, person.id, added

    try:
        name, officer_id, added = _db(work)
    except _Refused as exc:
        raise _fail(exc.vi, exc.en) from None
    if added:
        typer.echo(f"Cán bộ #{officer_id} thuộc đơn vị «{name}» / officer {officer_id} added to {name}")
    else:
        typer.echo(f"Cán bộ #{officer_id} đã thuộc đơn vị «{name}» / already a member")
