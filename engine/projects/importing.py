"""Importing a manuscript: a Markdown, text or DOCX file becomes a project of written sections.

The file is split on its headings (Markdown `#` and `##`, DOCX Heading 1 and 2) and on scene
breaks (`***`, `* * *`, any Markdown thematic break). Each piece becomes a finished section
whose plan row has the heading as title, a one-line summary drafted by the model as main point
and the piece's word count. A piece's text is kept exactly as the file has it (a scene break
stays as the first line of the scene it opens), so exporting Markdown right after an import
gives back the file's headings and paragraphs.

A lone level-1 heading at the top is the document's title: it names the project, and exports
print it as their title. Imported under another name, it is kept as the first section's heading.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt

from engine.errors import UserError
from engine.metrics import count_words
from engine.models.backends.base import Backend, ChatRequest
from engine.models.settings import LoadSettings
from engine.projects.service import create_project
from engine.prompts import language_of, render
from engine.schema import (
    MAX_SECTION_WORDS,
    MAX_SECTIONS,
    Plan,
    PlanSection,
    SamplingSettings,
)
from engine.store.database import Project, Store
from engine.text_hygiene import clean_name

MAX_TEXT_BYTES = 2 * 1024 * 1024
EXTENSIONS = (".md", ".markdown", ".txt", ".docx")
SUMMARY_MAX_TOKENS = 80
SUMMARY_INPUT_TOKENS = 1_500  # the start of a long piece is enough to say what it is about
MAX_MAIN_POINT_CHARS = 4_000
MAX_TITLE_CHARS = 200
_SCENE_BREAK = re.compile(r"^\s*(?:\*\s*){3,}$")
_SENTENCE_END = re.compile(r"[.!?][\"'”’)]*(?=\s|$)|[。！？][”’」』）]*")


@dataclass
class Piece:
    """One section-to-be: its heading ("" when the file gives it none) and its exact text.

    `heading_source` is the heading as the file spells it (used when a heading has to stay
    inside the text)."""

    heading: str
    text: str
    heading_source: str = ""


@dataclass
class Manuscript:
    """A file cut into pieces; `title` is its lone leading level-1 heading, if any (the
    title's own piece is the first one, headed by the title)."""

    name: str  # the file's name without its extension
    title: str
    pieces: list[Piece]

    def sections(self, project_name: str) -> list[Piece]:
        """The pieces a project named `project_name` keeps.

        The title heads the document only when the project carries its name; otherwise it
        stays a section heading. A piece with neither heading nor text is dropped. A single
        headed piece keeps its heading line in its text, since a one-section document shows
        no section headings."""
        pieces = list(self.pieces)
        if self.title and project_name == self.title:
            pieces[0] = Piece("", pieces[0].text)
        pieces = [p for p in pieces if p.heading or p.text.strip()]
        if len(pieces) == 1 and pieces[0].heading:
            only = pieces[0]
            text = f"{only.heading_source}\n\n{only.text}" if only.text else only.heading_source
            pieces = [Piece("", text)]
        if len(pieces) > MAX_SECTIONS:
            raise UserError(key="error.manuscript_too_many", pieces=len(pieces), most=MAX_SECTIONS)
        return pieces


@dataclass
class ImportProgress:
    """The model is summarizing piece `piece` (1-based) of `count`."""

    piece: int
    count: int
    title: str


@dataclass
class Imported:
    """The import finished: the new project, every section written."""

    project: Project


def read_manuscript(path: str | Path) -> Manuscript:
    """Read and split a .md, .markdown, .txt or .docx file; a UserError says what is wrong."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in EXTENSIONS:
        raise UserError(
            key="error.import_type" if suffix else "error.import_no_suffix",
            name=path.name,
            suffix=suffix,
        )
    try:
        size = path.stat().st_size
    except OSError as error:
        raise UserError(key="error.cannot_read", path=path, problem=error.strerror) from None
    if suffix == ".docx":
        title, pieces = _split_docx(path)
    else:
        if size > MAX_TEXT_BYTES:
            raise _too_long(path)
        title, pieces = split_markdown(_read_utf8(path))
    if not any(p.heading or p.text.strip() for p in pieces):
        raise UserError(key="error.import_empty", name=path.name)
    return Manuscript(path.stem, title, pieces)


def _too_long(path: Path) -> UserError:
    return UserError(key="error.import_too_big", name=path.name, mb=MAX_TEXT_BYTES // 1024 // 1024)


def _read_utf8(path: Path) -> str:
    """The file's text with a byte-order mark dropped and line endings made "\\n"."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UserError(key="error.import_not_utf8", name=path.name, byte=error.start) from None
    except OSError as error:
        raise UserError(key="error.cannot_read", path=path, problem=error.strerror) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


@dataclass
class _Cut:
    """Where a new piece starts: at `start`, with a heading spanning [start, end) or a scene
    break (heading None) that stays in the new piece's text. `level` is 1 or 2 for headings,
    0 for a DOCX Title."""

    start: int
    end: int
    heading: str | None
    level: int | None = None


def split_markdown(text: str) -> tuple[str, list[Piece]]:
    """The title and pieces of a Markdown (or plain) text, cut on `#`/`##` headings and
    thematic breaks outside quotes, lists and code."""
    lines = text.split("\n")
    cuts = []
    tokens = MarkdownIt("commonmark").parse(text)
    for index, token in enumerate(tokens):
        if token.level != 0 or token.map is None:
            continue
        start, end = token.map
        if token.type == "heading_open" and token.tag in ("h1", "h2"):
            # the heading's inline token; an underlined heading may span lines
            content = tokens[index + 1].content.replace("\n", " ").strip()
            cuts.append(_Cut(start, end, content, int(token.tag[1])))
        elif token.type == "hr":
            cuts.append(_Cut(start, start, None))
    return _pieces(lines, "\n", cuts)


def _split_docx(path: Path) -> tuple[str, list[Piece]]:
    """The title and pieces of a DOCX: one unit per non-empty paragraph, cut on the Title,
    Heading 1 and Heading 2 styles and on scene-break paragraphs."""
    import docx

    try:
        paragraphs = [
            (p.style.name if p.style else "", p.text) for p in docx.Document(path).paragraphs
        ]
    except Exception as error:  # python-docx raises zip, XML and package errors alike
        raise UserError(
            key="error.import_bad_docx", name=path.name, problem=type(error).__name__
        ) from None
    units, cuts = [], []
    levels = {"Title": 0, "Heading 1": 1, "Heading 2": 2}
    for style, paragraph in paragraphs:
        if not paragraph.strip():
            continue
        if style in levels:
            cuts.append(_Cut(len(units), len(units) + 1, paragraph.strip(), levels[style]))
        elif _SCENE_BREAK.match(paragraph):
            cuts.append(_Cut(len(units), len(units), None))
        units.append(paragraph)
    if len("\n\n".join(units).encode("utf-8")) > MAX_TEXT_BYTES:
        raise _too_long(path)
    return _pieces(units, "\n\n", cuts)


def _pieces(units: list[str], joiner: str, cuts: list[_Cut]) -> tuple[str, list[Piece]]:
    """Cut the units (lines, or DOCX paragraphs) into pieces; the first piece holds what comes
    before the first cut."""

    def text(start: int, end: int) -> str:
        return _trim_blank_lines(joiner.join(units[start:end]))

    starts = [cut.start for cut in cuts] + [len(units)]
    pieces = [Piece("", text(0, starts[0]))]
    for cut, next_start in zip(cuts, starts[1:], strict=True):
        if not cut.heading:  # a scene break, or an empty heading kept as text
            pieces.append(Piece("", text(cut.start, next_start)))
        else:
            source = joiner.join(units[cut.start : cut.end]).strip()
            pieces.append(Piece(cut.heading[:MAX_TITLE_CHARS], text(cut.end, next_start), source))
    first = cuts[0] if cuts else None
    lone_level_1 = [cut for cut in cuts if cut.level == 1] == [first]
    if (
        first is not None
        and first.heading
        and not pieces[0].text.strip()
        and (first.level == 0 or lone_level_1)
    ):
        return pieces[1].heading, pieces[1:]
    return "", pieces


def _trim_blank_lines(text: str) -> str:
    """The text without the blank lines before and after it (every other byte kept)."""
    lines = text.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)


def first_sentence(text: str) -> str:
    """The first sentence of a piece's prose, headings and scene breaks skipped."""
    prose = " ".join(
        line.strip()
        for line in text.split("\n")
        if line.strip() and not _SCENE_BREAK.match(line) and not line.lstrip().startswith("#")
    )
    match = _SENTENCE_END.search(prose)
    sentence = prose[: match.end()].strip() if match else prose
    return sentence[:MAX_MAIN_POINT_CHARS]


def summarize_piece(backend: Backend, text: str) -> str:
    """A one-line summary of the piece drafted by the model; its first sentence when the model
    fails or says nothing."""
    language = language_of(text)
    passage = _fit(backend, text, SUMMARY_INPUT_TOKENS)
    request = ChatRequest(
        messages=[{"role": "user", "content": render(language, "summary", passage=passage)}],
        max_tokens=SUMMARY_MAX_TOKENS,
        sampling=SamplingSettings(temperature=0.3, repeat_penalty=1.1, seed=0),
    )
    try:
        reply = "".join(backend.stream(request))
    except Exception:  # a summary is a convenience: any model failure falls back
        reply = ""
    return one_line(reply) or first_sentence(text)


def one_line(reply: str) -> str:
    """A model's reply as one clean line: its first non-empty line, without a leading label,
    quotes or list markers, at most MAX_MAIN_POINT_CHARS characters."""
    line = next((line.strip() for line in reply.split("\n") if line.strip()), "")
    line = re.sub(r"^(?:summary|main point|概要|摘要|总结)\s*[:：]\s*", "", line, flags=re.I)
    line = line.strip().lstrip("-*• ").strip("\"'“”「」 ")
    return " ".join(line.split())[:MAX_MAIN_POINT_CHARS]


def _fit(backend: Backend, text: str, budget: int) -> str:
    """The start of the text, cut to about `budget` tokens of this model."""
    for _ in range(4):  # each step cuts by the measured ratio, so a few steps suffice
        tokens = backend.count_text_tokens(text)
        if tokens <= budget:
            break
        text = text[: int(len(text) * budget / tokens * 0.95)]
    return text


@dataclass
class PreparedImport:
    """A checked manuscript ready to import: the project's name and the pieces it keeps."""

    file_name: str
    project_name: str
    pieces: list[Piece]


def prepare_import(
    store: Store, path: str | Path, project_name: str | None = None
) -> PreparedImport:
    """Read and split the file and check the project name, before any model is needed.

    `project_name`, when given, must be free; it defaults to `default_import_name`: the
    manuscript's title (else the file's name), as "Title (2)" when a project has that name."""
    manuscript = read_manuscript(path)
    name = clean_name(project_name or "")
    if name:
        store.check_name_free(name)
        return PreparedImport(Path(path).name, name, manuscript.sections(name))
    # named after its title ("Title (2)" too), the title heads the document, not a section
    name = _default_name(store, manuscript)
    return PreparedImport(Path(path).name, name, manuscript.sections(manuscript.title))


def default_import_name(store: Store, path: str | Path) -> str:
    """The name an import of this file gets when none is given (what an import panel offers):
    the manuscript's title, else its file's name; "Title (2)", "Title (3)"… when taken."""
    return _default_name(store, read_manuscript(path))


def _default_name(store: Store, manuscript: "Manuscript") -> str:
    return store.unique_name(manuscript.title or manuscript.name)


def run_import(
    store: Store,
    prepared: PreparedImport,
    backend: Backend,
    model: LoadSettings | None = None,
    owner: str | None = None,
) -> Iterator[ImportProgress | Imported]:
    """Summarize each piece (yielding progress), then create the project (of `owner`) with
    every piece written, and yield Imported. Nothing is saved until every summary is drafted."""
    pieces = prepared.pieces
    rows = []
    for number, piece in enumerate(pieces, start=1):
        title = piece.heading or f"Part {number}"
        yield ImportProgress(number, len(pieces), title)
        summary = (summarize_piece(backend, piece.text) if piece.text.strip() else "") or title
        words = min(max(count_words(piece.text), 1), MAX_SECTION_WORDS)
        rows.append(
            PlanSection(title=title, main_point=summary, words=words, heading=bool(piece.heading))
        )
    plan = Plan(sections=rows)
    prose = "\n\n".join(piece.text for piece in pieces)
    brief = render(language_of(prose), "imported", file=prepared.file_name)
    project = create_project(
        store, prepared.project_name, brief, plan.total_words, model=model, plan=plan
    )
    try:
        project = store.give(project, owner)
        for row, piece in zip(plan.sections, pieces, strict=True):
            version_id = store.start_section(project, row.id, piece.text, kind="imported")
            store.save_section(version_id, piece.text, 0, done=True)
        project = store.update_project(project, status="done")
    except BaseException:
        store.delete_project(project)  # no half-imported project is left behind
        raise
    yield Imported(project)


def import_manuscript(
    store: Store,
    path: str | Path,
    backend: Backend,
    project_name: str | None = None,
    model: LoadSettings | None = None,
    owner: str | None = None,
) -> Iterator[ImportProgress | Imported]:
    """Import the file as a new project of `owner` (what the studio's Import button runs):
    progress while the model summarizes each piece, then Imported with the project."""
    prepared = prepare_import(store, path, project_name)
    yield from run_import(store, prepared, backend, model, owner)
