"""Every event of a writing run, in one place: what the writer yields for a section or a recap,
what a run of a saved project adds (chapter planning, the run's end), and how a background job
ends (failed with a message, or finished/stopped). The CLI and the studio display these.
"""

from dataclasses import dataclass

from engine.errors import UserError
from engine.models.backends.base import Usage
from engine.schema import RunStats, SectionStats


@dataclass
class SectionStarted:
    """A section begins; `bible` names the story-bible entries its prompt carries."""

    index: int
    count: int
    target_words: int
    bible: tuple[str, ...] = ()


@dataclass
class SectionProgress:
    """The section's text so far (prefill included); sent at most once per chunk."""

    index: int
    text: str
    words: int
    output_tokens: int


@dataclass
class LoopCut:
    """The model started repeating itself or writing noise; the text was cut back and generation
    goes on."""

    index: int
    kept_words: int


@dataclass
class ContextTrimmed:
    dropped_sections: int


@dataclass
class SectionFinished:
    index: int
    text: str
    stats: SectionStats


@dataclass
class RecapStarted:
    chapter_id: str


@dataclass
class RecapFinished:
    """A finished chapter's recap, and what writing it cost."""

    chapter_id: str
    text: str
    usage: Usage


Event = (
    SectionStarted
    | SectionProgress
    | LoopCut
    | ContextTrimmed
    | SectionFinished
    | RecapStarted
    | RecapFinished
)


@dataclass
class RunFinished:
    stats: RunStats


@dataclass
class ChapterPlanning:
    """A chapter was reached without scenes; the model drafts them."""

    chapter_id: str


@dataclass
class ChapterPlanned:
    chapter_id: str
    scenes: int
    usage: Usage


@dataclass
class Failed:
    error: UserError


@dataclass
class Ended:
    stopped: bool
