"""The interface's words in Chinese and English: one language at a time, chosen from the browser's
languages and switched on the page."""

from __future__ import annotations

from dataclasses import dataclass

LANGUAGES = ("zh", "en")


@dataclass(frozen=True)
class Texts:
    title: str
    language: str
    settings: str
    sources: str
    chat: str
    placeholder: str
    send: str
    new_chat: str
    documents: str
    indexed: str
    headers: tuple[str, str, str]
    upload: str
    index_button: str
    replace: str
    keep: str
    remove_choice: str
    remove: str
    read_only: str
    viewer: str
    viewer_hint: str
    viewer_gone: str
    start: str
    choose_files: str
    choose_document: str
    kept: str
    reading: str  # {n} {m} {name}
    embedding: str  # {n} {m} {name} {done} {total}
    embedded: str  # {done} {total}


TEXTS = {
    "zh": Texts(
        title="### 向文档提问——每个答案都附引文和出处",
        language="界面语言",
        settings="设置",
        sources="显示的来源数",
        chat="对话",
        placeholder="输入问题……",
        send="发送",
        new_chat="新对话",
        documents="文档",
        indexed="已索引的文档",
        headers=("文档", "字符数", "段落数"),
        upload="上传文档",
        index_button="索引上传的文件",
        replace="替换",
        keep="保留已索引的文档",
        remove_choice="要删除的文档",
        remove="删除",
        read_only="本服务器只读：不能添加或删除文档。",
        viewer="原文",
        viewer_hint="点击答案中的「原文」，在这里打开文档中的那一段。",
        viewer_gone="这份文档已不在索引中。",
        start="文首",
        choose_files="请先选择文件。",
        choose_document="请先选择文档。",
        kept="没有改动。",
        reading="正在读取第 {n} 个文件（共 {m} 个）：{name}",
        embedding="第 {n} 个文件（共 {m} 个）：{name}，已嵌入 {done}/{total} 个句子",
        embedded="已嵌入 {done}/{total} 个句子",
    ),
    "en": Texts(
        title="### Ask the documents — every answer is quoted and located",
        language="Interface language",
        settings="Settings",
        sources="sources to show",
        chat="chat",
        placeholder="Type a question…",
        send="Send",
        new_chat="New conversation",
        documents="Documents",
        indexed="indexed documents",
        headers=("document", "characters", "passages"),
        upload="upload documents",
        index_button="Index the uploaded files",
        replace="Replace",
        keep="Keep the indexed documents",
        remove_choice="document to remove",
        remove="Remove",
        read_only="This server is read-only: documents cannot be added or removed.",
        viewer="Document",
        viewer_hint="Press “open” beside a citation to read the passage here, in its document.",
        viewer_gone="This document is no longer indexed.",
        start="start",
        choose_files="Choose files first.",
        choose_document="Choose a document first.",
        kept="Nothing was changed.",
        reading="reading file {n} of {m}: {name}",
        embedding="file {n} of {m}: {name}; {done} of {total} sentences embedded",
        embedded="{done} of {total} sentences embedded",
    ),
}


def interface_language(value: str | None) -> str:
    """ "zh" or "en" from a language tag or list of them as a browser gives it (``zh-CN``,
    ``en-US,en;q=0.9``) or from a choice already made; English for anything else."""
    first = (value or "").split(",")[0].strip().lower()
    return "zh" if first.startswith("zh") else "en"
