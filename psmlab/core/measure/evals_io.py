"""Reading model-written-evaluation files: JSONL or a JSON array of items and their (A)/(B)
choices (what "matching" means for a file is `evals_polarity`'s).

Answers are kept in one canonical form, with a leading space (" (A)", " Yes"): files write both
"(A)" and " (A)", and `evals.answer_text` removes the space again where a chat template wants it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from psmlab.core.domain.jsonl import refuse_utf16
from psmlab.core.errors import UsageError

_CHOICE = re.compile(r"^([ \t]*\(([A-Z])\))([ \t]*)(.*)$", re.M)
_NEXT_CHOICE = re.compile(r"[ \t]*\r?\n[ \t]*\(B\)[ \t]*")  # between (A)'s text and (B)'s
_BLOCK_END = re.compile(r"[ \t\r]*(\Z|\n[ \t\r]*(\n|\Z|Answer))")  # what may follow (B)'s text


@dataclass(frozen=True)
class EvalItem:
    index: int  # line number in a JSONL file, position (from 1) in a JSON array
    question: str
    matching: str
    not_matching: str
    # Further wrong answers (the sycophancy files' many-choice items): the matching answer must
    # then be the most likely of all, and P(matching) is normalised over all of them.
    others: tuple[str, ...] = ()
    # The item's own system prompt (a `system` field, as in ARENA-style files): the prompt uses
    # it unless the run sets one.
    system: str | None = None

    @property
    def wrong(self) -> tuple[str, ...]:
        """Every answer that does not match the behaviour, `not_matching` first."""
        return (self.not_matching, *self.others)


def canonical_answer(answer: str) -> str:
    """'(A)' and ' (A)' are the same answer: one leading space, as in Perez et al.'s files."""
    return " " + answer.lstrip()


WINOGENERATED = (
    "a winogenerated item (sentence_with_blank, pronoun_options): psmlab evals scores items with "
    "question, answer_matching_behavior and answer_not_matching_behavior (persona, sycophancy, "
    "advanced-ai-risk); skipped"
)


def _wanting(d: dict[str, Any], q: Any, m: Any, nm: Any) -> str:
    """Which of an item's fields is missing or not text, by name (a trial was told all three
    were needed when one was absent)."""
    said = []
    for key, value in (
        ("question", q),
        ("answer_matching_behavior", m),
        ("answer_not_matching_behavior", nm),
    ):
        if key not in d:
            said.append(f"{key} is missing")
        elif key == "answer_not_matching_behavior":
            ok = (
                isinstance(value, list)
                and value
                and all(isinstance(x, str) and x.strip() for x in value)
            )
            if not ok:
                said.append(f"{key} is not text (or a list of texts)")
        elif not (isinstance(value, str) and value.strip()):
            said.append(f"{key} is not text")
    return ("; ".join(said) or _NEEDS.removesuffix("; skipped")) + "; skipped"


def _item(d: Any, n: int) -> EvalItem | str | None:
    """The item, or why it cannot be scored (a string), or None when it lacks the fields."""
    if not isinstance(d, dict):
        return None
    if "question" not in d and ("sentence_with_blank" in d or "pronoun_options" in d):
        return WINOGENERATED
    q, m, nm = (
        d.get("question"),
        d.get("answer_matching_behavior"),
        d.get("answer_not_matching_behavior"),
    )
    if isinstance(m, list) and len(m) == 1:  # some files wrap answers in a list
        m = m[0]
    if isinstance(q, str) and not q.strip():
        # An empty question is an empty user message: no prompt can be made from it.
        return "the question is empty; skipped"
    options = _options(d.get("answers"))
    if options and isinstance(q, str):
        for a in (m, *(nm if isinstance(nm, list) else [nm])):
            bare = _BARE.fullmatch(a) if isinstance(a, str) else None
            if bare and bare.group(1).upper() not in options:
                names = ", ".join(f"({k})" for k in options)
                return f"the answer {a.strip()} is not among the item's answers {names}; skipped"
        q, m, nm = _listed(q, options, m, nm)
    elif isinstance(q, str):
        m, nm = (
            _letters(q, m),
            [_letters(q, a) for a in nm] if isinstance(nm, list) else _letters(q, nm),
        )
    if isinstance(m, list) and len(m) > 1 and isinstance(q, str):
        return f"answer_matching_behavior lists {len(m)} answers; only one can match; skipped"
    if isinstance(nm, str):
        nm = [nm]
    if not (isinstance(q, str) and isinstance(m, str) and isinstance(nm, list) and nm):
        return _wanting(d, q, m, nm)
    if not all(isinstance(x, str) and x.strip() for x in nm) or not m.strip():
        return _wanting(d, q, m, nm)
    # The question's choices: listed one per line from (A) on, else every "(X)" written in it
    # (choices written inline, " (A) Yes (B) No", which the lines do not find); fewer than two:
    # not known, and the item scores (a (C) asked of inline (A) and (B) was scored).
    listed = list(choices(q))
    if not (len(listed) >= 2 and "ABCDEFGHIJKLMNOPQRSTUVWXYZ".startswith("".join(listed))):
        listed = sorted(set(re.findall(r"\(([A-Z])\)", q)))
    complete = len(listed) >= 2
    for a in (m, *nm):
        letter = re.fullmatch(r"\s*\(([A-Z])\)\s*", a)
        if complete and letter and letter.group(1) not in listed:
            # Scoring " (C)" after a question listing only (A) and (B) measures nothing.
            names = ", ".join(f"({k})" for k in listed)
            return f"the answer {a.strip()} is not among the question's choices {names}; skipped"
    wrong = list(dict.fromkeys(canonical_answer(x.rstrip()) for x in nm))
    if canonical_answer(m.rstrip()) in wrong:
        return "the behaviour-matching answer is also listed as not matching; skipped"
    system = d.get("system")
    system = system if isinstance(system, str) and system.strip() else None
    return EvalItem(n, q, canonical_answer(m), wrong[0], tuple(wrong[1:]), system)


def _options(answers: Any) -> dict[str, str] | None:
    """An ARENA-style item's options apart from its question (`"answers": {"A": "Yes.", ...}`,
    or wrapped as `{"choices": {...}}`): letter -> text, or None for any other shape."""
    if isinstance(answers, dict) and set(answers) == {"choices"}:
        answers = answers["choices"]
    if not isinstance(answers, dict) or len(answers) < 2:
        return None
    if not all(
        isinstance(k, str) and re.fullmatch(r"[A-Za-z]", k.strip()) and isinstance(v, str)
        for k, v in answers.items()
    ):
        return None
    return {k.strip().upper(): v.strip() for k, v in answers.items()}


# A bare-letter answer in any of the forms files write it: "A", "(a)", "A)", "a.".
_BARE = re.compile(r"\s*\(?([A-Za-z])[).]?\s*")


def _listed(q: str, options: dict[str, str], m: Any, nm: Any) -> tuple[str, Any, Any]:
    """The question as the model must read it, with its options listed as Perez et al.'s files
    list them (" (A) Yes."), and bare-letter answers ("A") written as those letters ("(A)"):
    scoring " A" against " B" after a question that never shows the options measures nothing."""
    if not choices(q):
        lines = "\n".join(f" ({k}) {v}" for k, v in options.items())
        q = f"{q.rstrip()}\n\nChoices:\n{lines}"

    def letter(a: Any) -> Any:
        bare = _BARE.fullmatch(a) if isinstance(a, str) else None
        if bare and bare.group(1).upper() in options:
            return f"({bare.group(1).upper()})"
        return a

    return q, letter(m), [letter(a) for a in nm] if isinstance(nm, list) else letter(nm)


def _letters(q: str, a: Any) -> Any:
    """A bare-letter answer ("A", "(a)", "A)", "a.") to a question that shows that letter as
    "(A)" is the answer "(A)": scored as written, " A" against " B" is another string than the
    one the question's choices end with, so the item would score surface form."""
    bare = _BARE.fullmatch(a) if isinstance(a, str) else None
    if not bare:
        return a
    # The letter as the question writes it ("(a)" when its choices are lower-case); a letter
    # the question does not list becomes "(C)" too, so it is skipped as one.
    for form in (bare.group(1).upper(), bare.group(1).lower()):
        if f"({form})" in q:
            return f"({form})"
    return f"({bare.group(1).upper()})" if choices(q) else a


_NEEDS = (
    "needs question, answer_matching_behavior and answer_not_matching_behavior as text; skipped"
)


def file_form(path: Path, raw: bytes | None = None) -> str:
    """`array` when the file holds one JSON array of items (as Anthropic first released its
    LM-written files, whatever their extension), else `jsonl` (`raw`: its bytes, read already)."""
    if raw is None:
        try:
            with path.open("rb") as f:
                raw = f.read(256)
        except OSError:
            return "jsonl"
    head = raw[:256].removeprefix(b"\xef\xbb\xbf").lstrip()
    return "array" if head.startswith(b"[") else "jsonl"


def read_eval_bytes(path: Path) -> bytes:
    """The file's bytes, read once (a result names the file by their sha256: read again after
    the run, a pipe gave the digest of nothing, and a file moved meanwhile lost every result)."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}", "check the path") from None


def load_jsonl(
    path: Path, *, limit: int | None = None, raw: bytes | None = None
) -> tuple[list[EvalItem], list[str]]:
    """Items and one problem per malformed line or element (with its number); bad ones are skipped.
    Reads JSONL, or a file holding one JSON array of items (`raw`: its bytes, read already)."""
    if raw is None:
        raw = read_eval_bytes(path)
    refuse_utf16(path, raw)
    raw = raw.removeprefix(b"\xef\xbb\xbf")  # a byte-order mark is not content
    if raw.lstrip().startswith(b"["):
        return _load_array(path, raw, limit)
    items: list[EvalItem] = []
    problems: list[str] = []
    for n, line in enumerate(raw.splitlines(), 1):
        if limit is not None and len(items) >= limit:
            break
        if not line.strip():
            continue
        try:
            d = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError:
            problems.append(f"{path.name} line {n}: not UTF-8; skipped")
            continue
        except json.JSONDecodeError as exc:
            problems.append(f"{path.name} line {n}: not JSON ({exc.msg}); skipped")
            continue
        it = _item(d, n)
        if not isinstance(it, EvalItem):
            problems.append(f"{path.name} line {n}: {it or _NEEDS}")
            continue
        items.append(it)
    if not items:
        _other_shape(path, raw, problems)
    return items, problems


def _other_shape(path: Path, raw: bytes, problems: list[str]) -> None:
    """A file of another shape is one error saying which, not one warning per line."""
    if problems and all(p.endswith(WINOGENERATED) for p in problems):
        raise UsageError(
            f"{path} is a winogenerated file (sentence_with_blank, pronoun_options), which psmlab "
            "evals does not score",
            "give a persona, sycophancy or advanced-ai-risk file (question, "
            "answer_matching_behavior, answer_not_matching_behavior)",
        )
    if raw.lstrip().startswith(b"{"):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return
        n = _pretty_objects(text)
        if n:
            # Items pretty-printed (json.dumps(indent=2)): one "not JSON" per line said nothing
            # of the one fix.
            raise UsageError(
                f"{path} holds {n} item(s) written over several lines each, not one per line",
                f"write one item per line: jq -c . {path.name} > items.jsonl",
            )
        try:
            whole = json.loads(text)
        except json.JSONDecodeError:
            return
        # One item on one line that was skipped keeps its own reason (an item is no "object"):
        # a one-line JSONL file is JSONL (a trial's, its "prompt" where "question" goes).
        item_like = (
            any(str(k).startswith("answer") for k in whole) if isinstance(whole, dict) else False
        )
        if (
            isinstance(whole, dict)
            and "question" not in whole
            and ("\n" in text.strip() or not item_like)
        ):
            keys = ", ".join(repr(k) for k in list(whole)[:5])
            raise UsageError(
                f"{path} is one JSON object (keys {keys}), not items",
                "write one item per line (JSONL), or a JSON array of items",
            )


def _pretty_objects(text: str) -> int:
    """How many items (JSON objects with a "question") `text` holds one after another when at
    least one spans several lines (a pretty-printed file), else 0."""
    decoder, at, n, multiline = json.JSONDecoder(), 0, 0, False
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at == len(text):
            return n if multiline else 0
        try:
            obj, end = decoder.raw_decode(text, at)
        except json.JSONDecodeError:
            return 0
        if not isinstance(obj, dict) or "question" not in obj:
            return 0
        multiline = multiline or "\n" in text[at:end]
        n, at = n + 1, end


def _load_array(path: Path, raw: bytes, limit: int | None) -> tuple[list[EvalItem], list[str]]:
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8", "save it as UTF-8") from None
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{path} starts like a JSON array but is not JSON ({exc.msg} at line {exc.lineno})",
            "fix the JSON, or write one item per line (JSONL)",
        ) from None
    if not isinstance(data, list):
        raise UsageError(f"{path} is not a JSON array of items", "write one item per line (JSONL)")
    items: list[EvalItem] = []
    problems: list[str] = []
    for n, d in enumerate(data, 1):
        if limit is not None and len(items) >= limit:
            break
        it = _item(d, n)
        if not isinstance(it, EvalItem):
            problems.append(f"{path.name} item {n}: {it or _NEEDS}")
            continue
        items.append(it)
    if not items:
        _other_shape(path, b"", problems)
    return items, problems


def choices(question: str) -> dict[str, tuple[int, int]]:
    """The question's "(A) …" choice lines: letter -> (start, end) of the choice text."""
    return {m.group(2): (m.start(4), m.end(4)) for m in _CHOICE.finditer(question)}


def swapped(it: EvalItem) -> EvalItem | None:
    """The item with its two choice texts swapped and the letters kept (so the matching answer's
    letter flips); None unless the question lists exactly (A) and (B) and the answers are them."""
    spans = choices(it.question)
    answers = {it.matching.strip(), it.not_matching.strip()}
    if it.others or sorted(spans) != ["A", "B"] or answers != {"(A)", "(B)"}:
        return None
    q = it.question
    letters = [m.group(2) for m in _CHOICE.finditer(q)]
    (a0, a1), (b0, b1) = spans["A"], spans["B"]
    # Only one clean block is swapped: each letter on one line, (B) on the line right after (A),
    # and after (B) only the end, a blank line or "Answer:". A choice running over two lines, or
    # a later line that starts with "(A)", would otherwise be moved in part or swapped instead.
    if (
        letters.count("A") != 1
        or letters.count("B") != 1
        or not _NEXT_CHOICE.fullmatch(q[a1:b0])
        or not _BLOCK_END.match(q[b1:])
    ):
        return None
    new = q[:a0] + q[b0:b1] + q[a1:b0] + q[a0:a1] + q[b1:]  # (A) comes first: checked above
    return replace(it, question=new, matching=it.not_matching, not_matching=it.matching)
