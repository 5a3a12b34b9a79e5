from __future__ import annotations

import json

import pytest

from eval.sets import SetError, load_set
from tests.conftest import CMRC_SLICE, ROOT, SEED_DEV, cmrc_trial


def write(tmp_path, *lines: str):
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GOOD = '{"id": "a", "question": "多少？", "answers": ["1"]}'


def test_sets_in_the_repo_load():
    items = load_set(SEED_DEV)
    assert len(items) == 41 and sum(not i.answerable for i in items) == 3
    cmrc = load_set(CMRC_SLICE / "qa.jsonl")
    assert len(cmrc) == 82 and all(i.answerable and i.answers for i in cmrc)
    named = {i.doc for i in cmrc}
    assert named == {p.name for p in (CMRC_SLICE / "docs").iterdir()} and len(named) == 20


def test_cmrc_slice_is_copied_unchanged_from_the_trial():
    trial = cmrc_trial()
    assert len(load_set(trial / "qa.jsonl")) == 1002
    docs = sorted(p.name for p in (CMRC_SLICE / "docs").iterdir())
    for name in docs:
        assert (CMRC_SLICE / "docs" / name).read_bytes() == (trial / "docs" / name).read_bytes(), name
    trial_lines = (trial / "qa.jsonl").read_text(encoding="utf-8").splitlines()
    wanted = [line for line in trial_lines if line.strip() and json.loads(line)["doc"] in docs]
    assert (CMRC_SLICE / "qa.jsonl").read_text(encoding="utf-8").splitlines() == wanted


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"id": "b", "answers": ["1"]}', "missing field 'question'"),
        ('{"id": "b", "question": "q"}', "missing field 'answers'"),
        ('{"id": "", "question": "q", "answers": ["1"]}', "'id'"),
        ('{"id": "b", "question": "q", "answers": "1"}', "list of strings"),
        ('{"id": "b", "question": "q", "answers": []}', "at least one answer"),
        ('{"id": "b", "question": "q", "answers": [], "answerable": "no"}', "true or false"),
    ],
)
def test_bad_line_is_named(tmp_path, line, message):
    with pytest.raises(SetError, match=rf"set.jsonl:2: .*{message}"):
        load_set(write(tmp_path, GOOD, line))


def test_duplicate_id_names_both_lines(tmp_path):
    with pytest.raises(SetError, match="set.jsonl:3: duplicate id 'a' \\(first on line 1\\)"):
        load_set(write(tmp_path, GOOD, "", GOOD))


def test_unanswerable_without_answers_is_fine(tmp_path):
    items = load_set(write(tmp_path, '{"id": "u", "question": "GDP?", "answers": [], "answerable": false}'))
    assert not items[0].answerable and items[0].answers == ()


def test_empty_set_is_refused(tmp_path):
    with pytest.raises(SetError, match="no questions"):
        load_set(write(tmp_path, ""))


@pytest.mark.parametrize("folder", ["genres", "genres-2"])
def test_the_held_out_genre_sets_point_into_their_documents(folder):
    """Each answer and evidence string of a held-out genre set is its document's own text, and the
    evidence lies within one line that holds an answer: a set whose gold strings drift from the
    text would mark right answers wrong."""
    base = ROOT / "eval" / "data" / folder
    items = load_set(base / "qa.jsonl")
    docs = {p.name: p.read_text(encoding="utf-8") for p in (base / "docs").iterdir()}
    assert {i.doc for i in items if i.answerable} == set(docs)
    for item in items:
        assert item.answerable == bool(item.answers), item.id
        if not item.answerable:
            continue
        text = docs[item.doc]
        assert all(a in text for a in item.answers), item.id
        if item.evidence:
            assert item.evidence in text and "\n" not in item.evidence, item.id
            line = next(line for line in text.splitlines() if item.evidence in line)
            assert any(a in line for a in item.answers), item.id  # 第十七条 heads its article's line
