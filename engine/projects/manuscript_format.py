"""Standard manuscript format, the DOCX agents and publishers ask for: 12-point Times New Roman,
double-spaced, 1-inch margins, a running header "Surname / SHORT TITLE / page" (a PAGE field),
a title page with the author's name and contact and the word count rounded to the hundred,
every chapter on a new page, and scenes set apart by a centred "#".

The author's name and contact are the writer's preferences, saved once for every project (once
for each writer on a studio with sign-in: the project's owner's).
"""

from dataclasses import dataclass
from pathlib import Path

from engine.errors import UserError
from engine.export import DOCX_PROPERTY_CHARS, Document, east_asian_font
from engine.metrics import count_words
from engine.projects.run import project_document
from engine.store.database import Project, Store

FONT = "Times New Roman"
EAST_ASIAN_FONT = "SimSun"
FONT_POINTS = 12
MARGIN_INCHES = 1.0
FIRST_LINE_INDENT_INCHES = 0.5
SHORT_TITLE_WORDS = 3
SCENE_BREAK = "#"


@dataclass
class Author:
    name: str
    contact: str = ""  # address, e-mail, phone: one per line

    @property
    def surname(self) -> str:
        return self.name.split()[-1]


def _author_keys(owner: str | None) -> tuple[str, str]:
    """Where an author's name and contact are saved: once for the database, or once for each
    writer on a studio with sign-in (`owner`)."""
    suffix = f"@{owner}" if owner is not None else ""
    return f"author_name{suffix}", f"author_contact{suffix}"


def remember_author(
    store: Store, name: str | None, contact: str | None, owner: str | None = None
) -> None:
    """Save the author's name (when not blank) and contact (when given)."""
    name_key, contact_key = _author_keys(owner)
    if name is not None and name.strip():
        store.set_preference(name_key, name)
    if contact is not None:
        store.set_preference(contact_key, contact)


def stored_author(store: Store, owner: str | None = None) -> tuple[str, str]:
    """The saved name and contact ("" each when none)."""
    name_key, contact_key = _author_keys(owner)
    return store.preference(name_key), store.preference(contact_key)


def saved_author(
    store: Store, name: str | None = None, contact: str | None = None, owner: str | None = None
) -> Author:
    """The author's name and contact: saved first when given, else the saved ones (`owner`'s
    own, on a studio with sign-in)."""
    remember_author(store, name, contact, owner)
    saved, contact = stored_author(store, owner)
    if not saved:
        raise UserError(key="error.author_missing")
    return Author(saved, contact)


def rounded_words(document: Document) -> int:
    """The body's words rounded to the nearest hundred (at least 100)."""
    return max(100, round(count_words(document.body) / 100) * 100)


def short_title(title: str) -> str:
    """The header's title: its first few words, in capitals."""
    return " ".join(title.split()[:SHORT_TITLE_WORDS]).upper()


def write_manuscript_docx(document: Document, author: Author, path: Path) -> None:
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
    from docx.shared import Inches, Pt

    out = docx.Document()
    out.core_properties.title = document.title[:DOCX_PROPERTY_CHARS]
    out.core_properties.author = author.name[:DOCX_PROPERTY_CHARS]
    out.core_properties.language = document.language
    normal = out.styles["Normal"]
    normal.font.name, normal.font.size = FONT, Pt(FONT_POINTS)
    if document.language != "en":
        east_asian_font(normal, EAST_ASIAN_FONT, document.language)
    spacing = normal.paragraph_format
    spacing.line_spacing_rule = WD_LINE_SPACING.DOUBLE
    spacing.space_before = spacing.space_after = Pt(0)
    spacing.first_line_indent = Inches(FIRST_LINE_INDENT_INCHES)
    section = out.sections[0]
    for side in ("top_margin", "bottom_margin", "left_margin", "right_margin"):
        setattr(section, side, Inches(MARGIN_INCHES))
    section.different_first_page_header_footer = True  # the title page has no running header
    _running_header(section.header, author, document.title)

    def line(text: str = "", align=None, indent: bool = False, single: bool = False):
        paragraph = out.add_paragraph(text)
        if align is not None:
            paragraph.alignment = align
        if not indent:
            paragraph.paragraph_format.first_line_indent = Inches(0)
        if single:
            paragraph.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE
        return paragraph

    # title page: contact block at the top left, the word count at the top right, then the
    # title and byline centred about halfway down
    for text in [author.name, *author.contact.splitlines()]:
        if text.strip():
            line(text.strip(), single=True)
    line(f"about {rounded_words(document):,} words", WD_ALIGN_PARAGRAPH.RIGHT, single=True)
    for _ in range(8):
        line()
    line(document.title, WD_ALIGN_PARAGRAPH.CENTER)
    line(f"by {author.name}", WD_ALIGN_PARAGRAPH.CENTER)

    for chapter, sections in document.parts():
        heading = line(chapter or document.title, WD_ALIGN_PARAGRAPH.CENTER)
        heading.paragraph_format.page_break_before = True
        heading.paragraph_format.space_before = Inches(2)  # chapters open a third down
        heading.paragraph_format.keep_with_next = True
        for index, (_, text) in enumerate(sections):
            if index and text.strip():
                line(SCENE_BREAK, WD_ALIGN_PARAGRAPH.CENTER)
            for paragraph in text.split("\n\n"):
                if paragraph.strip():
                    line(" ".join(paragraph.split()), indent=True)
    out.save(str(path))


def _running_header(header, author: Author, title: str) -> None:
    """ "Surname / SHORT TITLE / n", right-aligned, n a PAGE field Word and LibreOffice fill in."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    paragraph = header.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    paragraph.paragraph_format.first_line_indent = 0
    paragraph.add_run(f"{author.surname} / {short_title(title)} / ")
    run = paragraph.add_run()._r
    for tag, value in (
        ("w:fldChar", "begin"),
        ("w:instrText", " PAGE "),
        ("w:fldChar", "separate"),
        ("w:t", "1"),  # shown until the reader updates the field
        ("w:fldChar", "end"),
    ):
        element = OxmlElement(tag)
        if tag == "w:fldChar":
            element.set(qn("w:fldCharType"), value)
        else:
            element.set(qn("xml:space"), "preserve")
            element.text = value
        run.append(element)


def export_manuscript(
    store: Store,
    project: Project,
    path: Path,
    name: str | None = None,
    contact: str | None = None,
) -> Path:
    """Write the project as a standard manuscript DOCX (name and contact saved when given)."""
    author = saved_author(store, name, contact, project.owner)
    document = project_document(store, project).cleaned()
    if not document.body.strip():
        raise UserError(key="error.nothing_to_export")
    try:
        write_manuscript_docx(document, author, path)
    except OSError as error:
        reason = error.strerror or str(error)
        raise UserError(key="error.export_unwritable", path=path, problem=reason) from None
    return path
