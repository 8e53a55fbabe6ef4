"""Voice data: the writer's manuscripts back-translated into the requests the studio sends.

A manuscript (an imported project, or a .md/.txt/.docx file cut the way `import` cuts it) is
split into sections and grouped into pieces of at most PIECE_WORDS words, the size of one flat
plan. The model then writes, for each section, the plan row it would have had (its heading as
title, a one-line summary as main point, its word count) and one instruction for the piece.
Each example is then the very conversation the studio's Writer sends when it writes that plan
(engine.writing.prompt_layout, through the Writer itself), with the writer's own sections as
the replies; train and write prompts match token for token.

The last sections of each piece are held out (whole sections), for the held-out loss and for
measuring the voice on plans it never saw. Back-translations are cached line by line in the
output folder, so a killed run resumes where it stopped and loses nothing.
"""

import hashlib
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import UserError
from engine.metrics import count_words
from engine.models.backends.base import Backend, ChatRequest
from engine.projects.importing import (
    EXTENSIONS,
    first_sentence,
    one_line,
    read_manuscript,
    summarize_piece,
)
from engine.prompts import language_of, render
from engine.schema import MAX_SECTION_WORDS, Plan, PlanSection, SamplingSettings
from engine.writing.length_control import SectionBudget
from engine.writing.prompt_layout import Brief
from engine.writing.writer import Writer

MIN_WORDS = 2_000  # below this a voice learns the few passages by heart, not a style
PIECE_WORDS = 6_000  # a piece is one flat plan; the studio plans longer pieces as chapters
HELD_OUT_SHARE = 0.15  # of each piece's sections, from its end
MIN_SECTION_WORDS = 20  # shorter scraps (a lone heading, an epigraph) join the next section
INSTRUCTION_MAX_TOKENS = 80
CACHE_FILE = "backtranslated.jsonl"
TRAIN_FILE, HELD_OUT_FILE, SUMMARY_FILE = "train.jsonl", "heldout.jsonl", "voice-data.json"
PLANS_FILE = "plans.jsonl"  # each piece's instruction, plan and held-out rows


@dataclass
class Section:
    title: str
    text: str
    opens_piece: bool = False  # a level-1 heading (a new story or chapter) starts a new piece


@dataclass
class Piece:
    """Consecutive sections of one manuscript, written as one plan."""

    source: str
    sections: list[Section]

    @property
    def words(self) -> int:
        return sum(count_words(s.text) for s in self.sections)

    @property
    def key(self) -> str:
        joined = "\x1e".join(f"{s.title}\x1f{s.text}" for s in self.sections)
        return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:20]


@dataclass
class Example:
    """A conversation whose last `targets` assistant turns are the writer's sections to learn
    (earlier ones are context the studio would also have sent)."""

    messages: list[dict[str, str]]
    targets: int

    def to_json(self) -> str:
        return json.dumps({"messages": self.messages, "targets": self.targets}, ensure_ascii=False)


@dataclass
class VoiceData:
    train: list[Example] = field(default_factory=list)
    held_out: list[Example] = field(default_factory=list)
    words: int = 0
    pieces: int = 0
    sections: int = 0
    held_out_sections: int = 0

    def summary(self) -> str:
        return (
            f"{self.words:,} words in {self.pieces} pieces, {self.sections} sections "
            f"({self.held_out_sections} held out): {len(self.train)} training and "
            f"{len(self.held_out)} held-out conversations."
        )


# --- reading manuscripts ---------------------------------------------------------------------
def read_sources(sources: Iterable[str], store=None) -> list[tuple[str, list[Section]]]:
    """Each source's sections: a .md/.txt/.docx file as `import` cuts it, else a project's
    current text (by name, from `store`)."""
    found = []
    for source in sources:
        path = Path(source).expanduser()
        if path.suffix.lower() in EXTENSIONS or path.is_file():
            manuscript = read_manuscript(path)
            pieces = manuscript.sections(manuscript.title or manuscript.name)
            sections = [
                Section(p.heading, p.text, p.heading_source.startswith("# ")) for p in pieces
            ]
        else:
            sections = project_sections(store, source)
        found.append((source, sections))
    return found


def project_sections(store, name: str) -> list[Section]:
    """A project's finished sections in plan order, titled by their plan rows."""
    if store is None:
        raise UserError(key="error.voice_source_missing", source=name)
    project = store.project(name)
    plan = store.plan(project)
    rows = {row.id: row for row in plan.sections} if plan else {}
    return [
        Section(rows[s.section_id].title, s.text)
        for s in store.sections(project)
        if s.status == "done" and s.text.strip()
    ]


def pieces_of(name: str, sections: list[Section]) -> list[Piece]:
    """Sections grouped into pieces of at most PIECE_WORDS words (scraps joined to the next
    section; a section longer than a plan row may be is left out)."""
    merged: list[Section] = []
    carry, opens = "", False
    for section in sections:
        text = f"{carry}\n\n{section.text}".strip() if carry else section.text.strip()
        opens = opens or section.opens_piece
        if count_words(text) < MIN_SECTION_WORDS:
            carry = text
            continue
        if count_words(text) <= MAX_SECTION_WORDS:
            merged.append(Section(section.title, text, opens))
        carry, opens = "", False
    pieces, current, words = [], [], 0
    for section in merged:
        size = count_words(section.text)
        if current and (words + size > PIECE_WORDS or section.opens_piece):
            pieces.append(Piece(name, current))
            current, words = [], 0
        current.append(section)
        words += size
    if current:
        pieces.append(Piece(name, current))
    return pieces


def check_enough(pieces: list[Piece], needed: int = MIN_WORDS) -> int:
    """The words the pieces hold; a UserError saying how much there is and how much is needed
    when it is too little, or when no piece has sections enough to hold one out."""
    words = sum(piece.words for piece in pieces)
    sections = sum(len(piece.sections) for piece in pieces)
    if words < needed or sections < 3:
        raise UserError(key="error.voice_too_little", words=words, needed=needed, sections=sections)
    return words


# --- back-translation ------------------------------------------------------------------------
class Cache:
    """Back-translations already made, one JSON line each, appended as they are made."""

    def __init__(self, path: Path):
        self.path = path
        self.entries: dict[str, str] = {}
        if not path.is_file():
            return
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):  # a kill cut the last line short: drop it
            data = data[: data.rfind(b"\n") + 1]
            path.write_bytes(data)
        for line in data.decode("utf-8", "replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # an unreadable line is made again
            self.entries[entry["key"]] = entry["value"]

    def get(self, key: str, make: Callable[[], str]) -> str:
        if key not in self.entries:
            self.entries[key] = make()
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps({"key": key, "value": self.entries[key]}) + "\n")
                handle.flush()
        return self.entries[key]


def _key(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:20]


def piece_instruction(backend: Backend, rows: list[PlanSection], words: int) -> str:
    """The one-sentence request the model supposes the piece was written for."""
    language = language_of(" ".join(row.main_point for row in rows))
    summaries = "\n".join(f"{i}. {row.main_point}" for i, row in enumerate(rows, start=1))
    request = ChatRequest(
        messages=[
            {
                "role": "user",
                "content": render(language, "voice_instruction", words=words, summaries=summaries),
            }
        ],
        max_tokens=INSTRUCTION_MAX_TOKENS,
        sampling=SamplingSettings(temperature=0.3, repeat_penalty=1.1, seed=0),
    )
    try:
        reply = one_line("".join(backend.stream(request)))
    except Exception:  # like an import's summary, a convenience: any model failure falls back
        reply = ""
    return reply or render(
        language, "voice_instruction_fallback", words=words, subject=rows[0].main_point
    )


def back_translate(
    backend: Backend, piece: Piece, cache: Cache, progress: Callable[[], None] = lambda: None
) -> tuple[str, Plan]:
    """The piece's instruction and plan, each row drafted (or read from the cache) once."""
    rows = []
    for number, section in enumerate(piece.sections, start=1):
        main_point = cache.get(
            _key("row", section.text), lambda s=section: summarize_piece(backend, s.text)
        )
        title = section.title or first_sentence(main_point)[:60] or f"Part {number}"
        rows.append(
            PlanSection(
                id="s" + _key(piece.key, str(number))[:8],  # the same plan on every run
                title=title[:200],
                main_point=main_point,
                words=count_words(section.text),
            )
        )
        progress()
    instruction = cache.get(
        _key("instruction", piece.key), lambda: piece_instruction(backend, rows, piece.words)
    )
    return instruction, Plan(sections=rows)


# --- examples --------------------------------------------------------------------------------
def held_out_count(sections: int, share: float = HELD_OUT_SHARE) -> int:
    """How many of a piece's last sections are held out (none of a piece under 3 sections)."""
    return 0 if sections < 3 else max(1, math.floor(sections * share + 0.5))


def studio_conversations(
    backend: Backend, brief: Brief, texts: list[str]
) -> list[tuple[int, list[dict[str, str]]]]:
    """For each section index, the messages the studio's Writer sends to write it after the
    sections before it (its own trimming of old sections included), paired with the index."""
    writer = Writer(backend, brief)
    requests = []
    for index in range(len(texts)):
        budget = SectionBudget(brief.plan.sections[index].words, writer.tokens_per_word)
        # the Writer's own layout and trim decision, so training sees what writing sends
        requests.append((index, writer._messages(texts[:index], index, budget)))
    return requests


def piece_examples(
    backend: Backend, brief: Brief, texts: list[str], held: int
) -> tuple[list[Example], list[Example]]:
    """Training and held-out examples of one piece: runs of consecutive sections that share a
    prompt layout become one conversation, each section a target exactly once."""
    requests = studio_conversations(backend, brief, texts)
    first_held = len(texts) - held
    runs: list[list[tuple[int, list[dict[str, str]]]]] = []
    for index, messages in requests:
        previous = runs[-1][-1] if runs else None
        same_run = previous is not None and (previous[0] < first_held) == (index < first_held)
        # the layout is unchanged when the earlier prompt plus its reply starts this one
        if same_run and messages[: len(previous[1]) + 1] == [
            *previous[1],
            {"role": "assistant", "content": texts[previous[0]]},
        ]:
            runs[-1].append((index, messages))
        else:
            runs.append([(index, messages)])
    train, held_out = [], []
    for run in runs:
        last, messages = run[-1]
        example = Example([*messages, {"role": "assistant", "content": texts[last]}], len(run))
        (train if last < first_held else held_out).append(example)
    return train, held_out


def build_voice_data(
    backend: Backend,
    sources: list[tuple[str, list[Section]]],
    out: Path,
    progress: Callable[[int], None] | None = None,
    needed: int = MIN_WORDS,
) -> VoiceData:
    """Back-translate every piece (resuming from out's cache) and write train.jsonl,
    heldout.jsonl and voice-data.json into out. progress(total) is called once with the number
    of sections, then progress(0)… once per section done."""
    pieces = [piece for name, sections in sources for piece in pieces_of(name, sections)]
    words = check_enough(pieces, needed)
    out.mkdir(parents=True, exist_ok=True)
    cache = Cache(out / CACHE_FILE)
    step = progress or (lambda _n: None)
    step(sum(len(piece.sections) for piece in pieces))
    data = VoiceData(words=words, pieces=len(pieces))
    plans = []
    for piece in pieces:
        instruction, plan = back_translate(backend, piece, cache, lambda: step(0))
        brief = Brief(instruction, plan, context_tokens=backend.info.context_length)
        texts = [section.text for section in piece.sections]
        held = held_out_count(len(texts))
        train, held_out = piece_examples(backend, brief, texts, held)
        data.train += train
        data.held_out += held_out
        data.sections += len(texts)
        data.held_out_sections += held
        record = {"instruction": instruction, "plan": plan.model_dump(), "held_out": held}
        plans.append(json.dumps(record, ensure_ascii=False))
    (out / PLANS_FILE).write_text("".join(line + "\n" for line in plans), encoding="utf-8")
    _write_lines(out / TRAIN_FILE, data.train)
    _write_lines(out / HELD_OUT_FILE, data.held_out)
    summary = {key: value for key, value in data.__dict__.items() if isinstance(value, int)}
    (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return data


def _write_lines(path: Path, examples: list[Example]) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text("".join(e.to_json() + "\n" for e in examples), encoding="utf-8")
    partial.replace(path)


def read_examples(path: Path) -> list[Example]:
    """Examples written by build_voice_data."""
    if not path.is_file():
        raise UserError(key="error.voice_data_missing", path=path.parent)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [Example(row["messages"], row["targets"]) for row in rows]
