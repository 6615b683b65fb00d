"""Every sentence `mgcare db` shows, in English and Simplified Chinese, side by side.

A Python table rather than a data file: `mgcare db` loads it on every run, it needs no
package-data entry, and mypy sees the keys. Reasons raised by lower layers (store, inputs) stay
the one-line English they were raised with; in Chinese they follow a translated lead-in
(`无法导入 FILE：<reason>`) because arbitrary exception texts cannot be translated safely.
English templates are the historical output, byte for byte (the README examples test them).
Standard library only: imported by `mgcare.store.cli` at module load.
"""

from __future__ import annotations

from typing import Literal

Lang = Literal["en", "zh"]

MESSAGES: dict[str, tuple[str, str]] = {
    # key: (English, 简体中文)
    # --- lead-ins for errors raised below the CLI (English reason follows in zh) ---
    "error": ("{reason}", "{reason}"),
    "error.info": ("{reason}", "无法读取数据库信息：{reason}"),
    "error.import": ("{reason}", "无法导入：{reason}"),
    "error.import_file": ("{file}: {reason}", "无法导入 {file}：{reason}"),
    "error.list": ("{reason}", "无法列出人员：{reason}"),
    "error.export": ("{reason}", "无法导出 {person}：{reason}"),
    "error.backup": ("{reason}", "无法备份到 {path}：{reason}"),
    # --- info ---
    "info.database": ("database  {url}", "数据库    {url}"),
    "info.backend": ("backend   {backend}", "后端      {backend}"),
    "info.revision": ("revision  {revision}", "架构版本  {revision}"),
    # --- import ---
    "import.imported": (
        "imported {file} → person {person} ({added})",
        "已导入 {file} → 人员 {person}（{added}）",
    ),
    "import.updated": (
        "updated {file} → person {person} ({added})",
        "已更新 {file} → 人员 {person}（{added}）",
    ),
    "import.nothing_new": ("already stored, nothing new", "已存储，无新内容"),
    "import.new": ("new: {parts}", "新增：{parts}"),
    "import.separator": (", ", "、"),
    "import.summary_one": (
        "{failed} of {files} not imported (nothing of it was stored); {stored} imported",
        "{files}中有 {failed} 个未导入（其内容均未存储）；已导入 {stored} 个",
    ),
    "import.summary_many": (
        "{failed} of {files} not imported (nothing of them was stored); {stored} imported",
        "{files}中有 {failed} 个未导入（其内容均未存储）；已导入 {stored} 个",
    ),
    "import.too_large": ("file is larger than {mib} MiB", "文件大于 {mib} MiB"),
    "import.no_such_file": ("no such file", "文件不存在"),
    "import.directory": ("is a directory, not a file", "是目录，不是文件"),
    "import.not_utf8": ("not UTF-8 text", "不是 UTF-8 文本"),
    "import.cannot_read": ("cannot read ({reason})", "无法读取（{reason}）"),
    "import.malformed": (
        "malformed JSON ({reason} at line {line}, column {column})",
        "JSON 格式错误（第 {line} 行第 {column} 列：{reason}）",
    ),
    "bad_today": (
        "--today must be a date YYYY-MM-DD, not {text!r}",
        "--today 必须是 YYYY-MM-DD 格式的日期，而不是 {text!r}",
    ),
    # --- list ---
    "list.none": ("no persons stored", "尚未存储任何人员"),
    "list.none_match": ("no persons stored match", "没有符合条件的已存储人员"),
    "list.header": (
        "id|external id|name|sex|age|latest Mg|Mg date|labs",
        "编号|外部编号|姓名|性别|年龄|最近血镁|血镁日期|化验数",
    ),
    "sex.male": ("male", "男"),
    "sex.female": ("female", "女"),
    "sex.other": ("other", "其他"),
    "sex.unknown": ("unknown", "未知"),
    # --- export ---
    "export.done": (
        "exported person {person} as {format} to {path}",
        "已将人员 {person} 以 {format} 格式导出到 {path}",
    ),
    "write_failed": ("cannot write {path}: {reason}", "无法写入 {path}：{reason}"),
    # --- backup ---
    "backup.exists": (
        "{path} exists; choose a new file or pass --force",
        "{path} 已存在；请换一个文件名，或加 --force 覆盖",
    ),
    "backup.directory": ("{path} is a directory; give a file name", "{path} 是目录；请给出文件名"),
    "backup.done": (
        "backed up {persons} to {path} ({kib} KiB, {kind})",
        "已备份 {persons}到 {path}（{kib} KiB，{kind}）",
    ),
    "backup.kind_pg": ("pg_dump custom format", "pg_dump 自定义格式"),
    "backup.kind_sqlite": ("SQLite", "SQLite"),
    "backup.no_pg_dump": (
        "backup of PostgreSQL ({url}) needs pg_dump, which is not on PATH; install the "
        "PostgreSQL client tools or run: pg_dump -Fc -f FILE DBNAME",
        "备份 PostgreSQL（{url}）需要 pg_dump，但它不在 PATH 中；请安装 PostgreSQL "
        "客户端工具，或运行：pg_dump -Fc -f FILE DBNAME",
    ),
    "backup.pg_dump_failed": (
        "pg_dump of {url} failed: {reason}",
        "pg_dump 备份 {url} 失败：{reason}",
    ),
}

COUNTS: dict[str, tuple[str, str, str]] = {
    # key: (English singular, English plural, 简体中文)
    "lab": ("{n} lab", "{n} labs", "化验 {n} 项"),
    "medication": ("{n} medication", "{n} medications", "用药 {n} 种"),
    "condition": ("{n} condition", "{n} conditions", "诊断 {n} 项"),
    "food_log": ("{n} food-log row", "{n} food-log rows", "饮食记录 {n} 行"),
    "file": ("{n} file", "{n} files", "{n} 个文件"),
    "person": ("{n} person", "{n} persons", "{n} 名人员"),
}


def text(lang: Lang, key: str, **params: object) -> str:
    """The sentence `key` in `lang`, placeholders filled from `params`."""
    template = MESSAGES[key][0 if lang == "en" else 1]
    return template.format(**params) if params else template


def count(lang: Lang, key: str, n: int) -> str:
    """`n` things, with the English plural where English needs one."""
    singular, plural, zh = COUNTS[key]
    template = zh if lang == "zh" else singular if n == 1 else plural
    return template.format(n=n)
