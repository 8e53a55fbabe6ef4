"""How section prompts are laid out so consecutive sections share the longest token prefix.

The conversation grows by appending only: system, then one user turn holding the brief
(instruction, story bible, plan) and the first request, then for every written section its
text as an assistant turn and the next request as a user turn. The prompt for section k+1 is
the prompt for section k plus section k's text plus one short request, so llama.cpp evaluates
little more than the newly written text.

When the conversation would overflow the context window, the oldest sections are dropped in
one large step and replaced by a short recap inside the first user turn; the layout then stays
stable again for many sections.
"""

from dataclasses import dataclass

from engine.length_control import cut_at_sentence
from engine.prompts import Language, bible_block, language_of, render
from engine.schema import Plan

RECAP_WORDS_PER_SECTION = 25
KEEP_AFTER_TRIM = 0.35  # share of the text budget kept after a trim


@dataclass(frozen=True)
class Brief:
    """What every section prompt carries: the task, the story bible and the plan."""

    instruction: str
    plan: Plan
    bible: str = ""

    @property
    def language(self) -> Language:
        return language_of(self.instruction)


def brief_text(brief: Brief) -> str:
    language = brief.language
    rows = "\n".join(
        render(language, "plan_row", index=i, title=s.title, main_point=s.main_point, words=s.words)
        for i, s in enumerate(brief.plan.sections, start=1)
    )
    return render(
        language,
        "brief",
        instruction=brief.instruction.strip(),
        bible_block=bible_block(language, brief.bible),
        section_count=len(brief.plan.sections),
        total_words=brief.plan.total_words,
        plan_rows=rows,
    )


def section_request(brief: Brief, index: int) -> str:
    section = brief.plan.sections[index]
    return render(
        brief.language,
        "section",
        index=index + 1,
        section_count=len(brief.plan.sections),
        title=section.title,
        main_point=section.main_point,
        words=section.words,
    )


def recap(brief: Brief, texts: list[str]) -> str:
    """A short extractive summary of dropped sections: each one's opening sentences."""
    lines = []
    for i, text in enumerate(texts):
        words = text.split()
        opening = " ".join(words[:RECAP_WORDS_PER_SECTION])
        if brief.language == "zh":
            opening = text[: RECAP_WORDS_PER_SECTION * 2]
        lines.append(
            f"{i + 1}. {brief.plan.sections[i].title}: {cut_at_sentence(opening) or opening}"
        )
    return render(brief.language, "recap", dropped=len(texts), summary="\n".join(lines))


def section_messages(
    brief: Brief, written: list[str], index: int, dropped: int
) -> list[dict[str, str]]:
    """Chat messages asking for section `index`, after `written` (texts of sections 0..index-1),
    of which the first `dropped` are replaced by a recap."""
    language = brief.language
    first = brief_text(brief)
    if dropped:
        first += "\n\n" + recap(brief, written[:dropped])
    messages = [
        {"role": "system", "content": render(language, "system")},
        {"role": "user", "content": first + "\n\n" + section_request(brief, dropped)},
    ]
    for j in range(dropped, index):
        messages.append({"role": "assistant", "content": written[j]})
        messages.append({"role": "user", "content": section_request(brief, j + 1)})
    return messages


def sections_to_drop(
    section_tokens: list[int], fixed_tokens: int, context: int, reserve: int, dropped: int
) -> int:
    """How many leading sections to drop so the prompt plus `reserve` new tokens fit `context`.

    Returns `dropped` unchanged while everything fits; otherwise drops enough that the kept
    sections take at most KEEP_AFTER_TRIM of the room, so the next trim is far away.
    """
    room = context - fixed_tokens - reserve
    if sum(section_tokens[dropped:]) <= room:
        return dropped
    keep_budget = max(0, int(room * KEEP_AFTER_TRIM))
    new_dropped = len(section_tokens)
    kept = 0
    while new_dropped > dropped and kept + section_tokens[new_dropped - 1] <= keep_budget:
        new_dropped -= 1
        kept += section_tokens[new_dropped]
    return max(new_dropped, dropped + 1)
