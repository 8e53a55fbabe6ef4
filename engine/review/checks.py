"""The read-through's checks that need no model: fast enough for a 60,000-word book in seconds.

- names that nearly match a bible name or alias but are not one ("Maele" for "Maëlle");
- sentences that occur again in a later place of the book;
- words and phrases a section uses far more often than the rest of the book does;
- point of view (first or third person) and tense (past or present) that drift from the
  project's style presets, or without presets from the book's own majority, judged by pronoun
  and verb-form rates in the narration (quoted speech left out);
- sections far from their plan row's length.

Every finding quotes text exactly as it stands in its section.
"""

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from engine.metrics import count_words
from engine.prompts import language_of
from engine.review.findings import Finding
from engine.writing.bible import BibleEntry

SHORT_SHARE, LONG_SHARE = 0.6, 1.6  # of the row's target: outside this a section is flagged
MIN_REPEAT_WORDS = {"en": 6, "zh": 10}
PHRASE_LENGTHS = range(6, 1, -1)  # longest first: a reported phrase hides its parts
MIN_PHRASE_COUNT, MIN_WORD_COUNT = 3, 8
OVERUSE_FACTOR = 4.0  # times the rate in the rest of the book
MIN_PRONOUNS, MIN_VERBS = 8, 10
FIRST_PERSON_SHARE = 0.25  # narration with this share of first-person pronouns is first person

_WORD = re.compile(r"[\u4e00-\u9fff]|[^\W\d_]+")
_SENTENCE = re.compile(r"[^.!?。！？\n]*(?:[.!?。！？]+[\"'”’」』)]*|\n|$)")
_SPEECH = re.compile(r"\"[^\"\n]*\"|“[^”]*”|「[^」]*」|『[^』]*』")
_CAPITALIZED = re.compile(r"(?<![\w'’])[^\W\d_]+")
_FIRST_EN = re.compile(r"\b(?:I|me|my|mine|myself)\b")
_THIRD_EN = re.compile(r"\b(?:he|she|him|her|his|hers|himself|herself)\b", re.IGNORECASE)
_PAST = re.compile(
    r"\b(?:was|were|had|did|said|went|came|saw|knew|thought|felt|took|made|got|gave|told|"
    r"stood|sat|ran|held|kept|left|put|seemed|began|heard|found|brought|looked|turned|walked|"
    r"asked|opened|smiled|nodded|tried|wanted|waited|[a-z]{3,}ed)\b",
    re.IGNORECASE,
)
_PRESENT = re.compile(
    r"\b(?:am|is|are|has|does|says|goes|comes|sees|knows|thinks|feels|takes|makes|gets|gives|"
    r"tells|stands|sits|runs|holds|keeps|leaves|puts|seems|begins|hears|finds|brings|looks|"
    r"turns|walks|asks|opens|smiles|nods|tries|wants|waits)\b",
    re.IGNORECASE,
)
STOPWORDS = set(
    "a an the and or but if of at by for with about against between into through during before "
    "after above below to from up down in out on off over under again further then once here "
    "there when where why how all any both each few more most other some such no nor not only "
    "own same so than too very can will just don should now i me my we our you your he him his "
    "she her it its they them their what which who whom this that these those am is are was "
    "were be been being have has had having do does did as until while said would could one "
    "like back still toward towards along beside near behind across past around inside outside "
    "without within upon onto among beneath beyond".split()
)


@dataclass
class ReviewSection:
    """A written section as the read-through sees it."""

    section_id: str
    position: int  # 0-based plan row
    title: str
    main_point: str
    target_words: int
    text: str
    version_id: int
    chapter_id: str | None = None
    chapter_title: str = ""


def sentences(text: str) -> list[tuple[int, str]]:
    """(offset, sentence) for each sentence of the text, stripped, empty ones left out."""
    found = []
    for match in _SENTENCE.finditer(text):
        sentence = match.group().strip()
        if sentence:
            found.append((match.start() + match.group().index(sentence), sentence))
    return found


def words_of(text: str) -> list[str]:
    """The words of a text, lower-cased: runs of letters of any alphabet (accents kept), each
    Chinese character on its own."""
    return [word.lower() for word in _WORD.findall(text)]


def narration(text: str) -> str:
    """The text with quoted speech blanked out (what point of view and tense are judged on)."""
    return _SPEECH.sub(lambda m: " " * len(m.group()), text)


def read_through(
    sections: list[ReviewSection], bible: list[BibleEntry], style: list[str]
) -> list[Finding]:
    """Every deterministic finding of the book, in plan order."""
    findings = []
    findings += near_names(sections, bible)
    findings += repeated_sentences(sections)
    findings += overused(sections, bible)
    findings += drift(sections, style)
    findings += lengths(sections)
    order = {s.section_id: s.position for s in sections}
    return sorted(findings, key=lambda f: order[f.section_id])


# -- names ---------------------------------------------------------------------------------
def _fold(word: str) -> str:
    """Lower case without accents: "Maëlle" -> "maelle"."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _distance(a: str, b: str, most: int) -> int:
    """Levenshtein distance of a and b, or most + 1 once it is sure to exceed `most`."""
    if abs(len(a) - len(b)) > most:
        return most + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > most:
            return most + 1
        previous = current
    return previous[-1]


def _near(word: str, name: str) -> bool:
    """A different spelling of the name: the same letters but for accents, or one edit away
    (two for names of eight letters or more); names under five letters only by accents."""
    if word == name:
        return False
    a, b = _fold(word), _fold(name)
    if a == b:
        return True
    if len(b) < 5:
        return False
    return _distance(a, b, 2 if len(b) >= 8 else 1) <= (2 if len(b) >= 8 else 1)


def near_names(sections: list[ReviewSection], bible: list[BibleEntry]) -> list[Finding]:
    """Capitalized words that are a near miss of a bible name or alias (a word the book also
    writes in lower case is an ordinary word, not a name)."""
    names = {
        part
        for entry in bible
        if not entry.untitled
        for name in (entry.name, *entry.aliases)
        for part in name.split()
        if part[:1].isupper() and language_of(part) == "en"
    }
    if not names:
        return []
    lower = {w for s in sections for w in _CAPITALIZED.findall(s.text) if w[:1].islower()}
    verdicts: dict[str, str | None] = {}
    findings = []
    for section in sections:
        reported = set()
        for match in _CAPITALIZED.finditer(section.text):
            word = match.group()
            if not word[:1].isupper() or word in names or word in reported:
                continue
            if word not in verdicts:
                ordinary = word.lower() in lower or word.lower() in STOPWORDS
                near = [] if ordinary else [n for n in sorted(names) if _near(word, n)]
                verdicts[word] = near[0] if near else None
            name = verdicts[word]
            if name is None:
                continue
            reported.add(word)
            count = len(re.findall(rf"(?<!\w){re.escape(word)}(?!\w)", section.text))
            findings.append(
                Finding(
                    section_id=section.section_id,
                    kind="name",
                    severity="high",
                    quote=sentence_at(section.text, match.start()),
                    suggestion=f"“{word}” ({count}×) is not in the bible; did you mean “{name}”?",
                )
            )
    return findings


def sentence_at(text: str, offset: int) -> str:
    for start, sentence in sentences(text):
        if start <= offset < start + len(sentence):
            return sentence
    return text[offset : offset + 80].split("\n")[0]


# -- repeats -------------------------------------------------------------------------------
def repeated_sentences(sections: list[ReviewSection]) -> list[Finding]:
    """A sentence written again later in the book (same words, any case and punctuation); the
    later place is flagged, naming the first."""
    first_seen: dict[tuple[str, ...], ReviewSection] = {}
    findings = []
    for section in sections:
        least = MIN_REPEAT_WORDS[language_of(section.text)]
        for _, sentence in sentences(section.text):
            key = tuple(words_of(sentence))
            if len(key) < least:
                continue
            earlier = first_seen.setdefault(key, section)
            if earlier is section and not _twice_in(section, key):
                continue
            where = (
                "earlier in this section"
                if earlier is section
                else f"in section {earlier.position + 1} (“{earlier.title}”)"
            )
            findings.append(
                Finding(
                    section_id=section.section_id,
                    kind="repeat",
                    severity="medium",
                    quote=sentence,
                    suggestion=f"This sentence is also {where}: reword or cut one of them.",
                )
            )
    return _unique(findings)


def _twice_in(section: ReviewSection, key: tuple[str, ...]) -> bool:
    """Whether the sentence occurs at least twice in this section (the second is a repeat)."""
    return sum(tuple(words_of(s)) == key for _, s in sentences(section.text)) > 1


def _unique(findings: list[Finding]) -> list[Finding]:
    seen, kept = set(), []
    for finding in findings:
        if finding.key not in seen:
            seen.add(finding.key)
            kept.append(finding)
    return kept


# -- overuse -------------------------------------------------------------------------------
def _grams(sentence_words: list[list[str]], n: int) -> Counter:
    """The n-word phrases of a text's sentences (none across a sentence's end)."""
    return Counter(
        tuple(words[i : i + n]) for words in sentence_words for i in range(len(words) - n + 1)
    )


def overused(sections: list[ReviewSection], bible: list[BibleEntry]) -> list[Finding]:
    """Phrases (2 to 6 words) used 3 or more times in a section, and words used 8 or more
    times, at over 4 times their rate in the rest of the book. Names and function words are not
    counted; a reported phrase hides the shorter phrases inside it."""
    names = {w for e in bible for n in (e.name, *e.aliases) for w in words_of(n)}
    names |= _only_capitalized(sections)
    words = {s.section_id: [words_of(x) for _, x in sentences(s.text)] for s in sections}
    total_words = sum(len(w) for ws in words.values() for w in ws)
    reported: dict[str, list[str]] = {s.section_id: [] for s in sections}
    findings = []
    for n in (*PHRASE_LENGTHS, 1):
        per_section = {sid: _grams(w, n) for sid, w in words.items()}
        book = Counter()
        for grams in per_section.values():
            book.update(grams)
        least = MIN_WORD_COUNT if n == 1 else MIN_PHRASE_COUNT
        for section in sections:
            own = per_section[section.section_id]
            length = sum(len(w) for w in words[section.section_id])
            rest_rate = 1 / max(total_words - length, 1)
            for gram, count in own.items():
                if count < least or not _content(gram, names):
                    continue
                if count / max(length, 1) < OVERUSE_FACTOR * (book[gram] - count) * rest_rate:
                    continue
                phrase = " ".join(gram)
                parts = {phrase, " ".join(gram[1:]), " ".join(gram[:-1])} if n > 2 else {phrase}
                if any(f" {p} " in f" {r} " for p in parts for r in reported[section.section_id]):
                    continue  # inside, or overlapping, a longer phrase already reported
                quote = find_phrase(section.text, gram)
                if quote is None:
                    continue
                reported[section.section_id].append(phrase)
                findings.append(
                    Finding(
                        section_id=section.section_id,
                        kind="overuse",
                        severity="low",
                        quote=quote,
                        suggestion=f"“{phrase}” {count}× in this section "
                        f"({book[gram] - count}× in the rest of the book): vary it.",
                    )
                )
    return findings


def _only_capitalized(sections: list[ReviewSection]) -> set[str]:
    """Words the book only ever writes capitalized (names), lower-cased."""
    seen = [w for s in sections for w in _CAPITALIZED.findall(s.text)]
    lower = {w for w in seen if w[:1].islower()}
    return {w.lower() for w in seen if w[:1].isupper() and w.lower() not in lower}


def _content(gram: tuple[str, ...], names: set[str]) -> bool:
    """A phrase worth counting: it starts and ends with a content word, and holds two that are
    no names (a word alone: a content word of four letters or more, no name)."""
    if language_of("".join(gram)) == "zh":  # one character a word: a phrase has four or more
        return len(gram) >= 4
    if gram[0] in STOPWORDS or gram[-1] in STOPWORDS:
        return False
    if len(gram) == 1:
        return len(gram[0]) > 3 and gram[0] not in names and language_of(gram[0]) == "en"
    return sum(w not in names and w not in STOPWORDS for w in gram) >= 2


def find_phrase(text: str, gram: tuple[str, ...]) -> str | None:
    """The first place the phrase stands in the text, as written (case and spacing kept)."""
    if language_of("".join(gram)) == "zh":
        pattern = r"\W*".join(re.escape(w) for w in gram)
    else:
        pattern = r"(?<!\w)" + r"\W+".join(re.escape(w) for w in gram) + r"(?!\w)"
    match = re.search(pattern, text, re.IGNORECASE)
    return match.group() if match else None


# -- point of view and tense -----------------------------------------------------------------
@dataclass
class Voice:
    """A section's narration: first-person share and past-tense share (None: too little to
    judge)."""

    first_person: bool | None
    past: bool | None


def voice(text: str) -> Voice:
    told = narration(text)
    if language_of(text) == "zh":
        first, third = told.count("我"), told.count("他") + told.count("她")
        past = None  # Chinese marks no tense on its verbs
    else:
        first, third = len(_FIRST_EN.findall(told)), len(_THIRD_EN.findall(told))
        past_count, present_count = len(_PAST.findall(told)), len(_PRESENT.findall(told))
        verbs = past_count + present_count
        past = past_count / verbs >= 0.5 if verbs >= MIN_VERBS else None
    pronouns = first + third
    first_person = first / pronouns >= FIRST_PERSON_SHARE if pronouns >= MIN_PRONOUNS else None
    return Voice(first_person, past)


def drift(sections: list[ReviewSection], style: list[str]) -> list[Finding]:
    """Sections whose point of view or tense is not the style's (or, without a preset, not the
    one most of the book's sections use)."""
    voices = {s.section_id: voice(s.text) for s in sections}
    first = _expected(
        style, "first_person", "third_person", [v.first_person for v in voices.values()]
    )
    past = _expected(style, "past", "present", [v.past for v in voices.values()])
    findings = []
    for section in sections:
        heard = voices[section.section_id]
        if first is not None and heard.first_person is not None and heard.first_person != first:
            told = "first" if heard.first_person else "third"
            wanted = "first" if first else "third"
            pattern = _FIRST_EN if heard.first_person else _THIRD_EN
            if language_of(section.text) == "zh":
                pattern = re.compile("我" if heard.first_person else "[他她]")
            findings.append(
                _voice_finding(
                    section,
                    "pov",
                    pattern,
                    f"Told in the {told} person; the book is in the {wanted} person. "
                    f"Rewrite it in the {wanted} person.",
                )
            )
        if past is not None and heard.past is not None and heard.past != past:
            told, wanted = ("past", "present") if heard.past else ("present", "past")
            findings.append(
                _voice_finding(
                    section,
                    "tense",
                    _PAST if heard.past else _PRESENT,
                    f"Told in the {told} tense; the book is in the {wanted} tense. "
                    f"Rewrite it in the {wanted} tense.",
                )
            )
    return findings


def _expected(style: list[str], yes: str, no: str, votes: list[bool | None]) -> bool | None:
    if yes in style:
        return True
    if no in style:
        return False
    counted = [v for v in votes if v is not None]
    if len(counted) < 3:
        return None
    share = sum(counted) / len(counted)
    return True if share >= 0.75 else False if share <= 0.25 else None


def _voice_finding(section: ReviewSection, kind: str, marker: re.Pattern, advice: str) -> Finding:
    told = narration(section.text)
    quote = next(
        (s for start, s in sentences(section.text) if marker.search(told[start : start + len(s)])),
        sentences(section.text)[0][1],
    )
    return Finding(
        section_id=section.section_id, kind=kind, severity="high", quote=quote, suggestion=advice
    )


# -- length --------------------------------------------------------------------------------
def lengths(sections: list[ReviewSection]) -> list[Finding]:
    """Sections under 60 % or over 160 % of their row's target; the quote is where it ends."""
    findings = []
    for section in sections:
        words = count_words(section.text)
        share = words / max(section.target_words, 1)
        if SHORT_SHARE <= share <= LONG_SHARE or not section.text.strip():
            continue
        findings.append(
            Finding(
                section_id=section.section_id,
                kind="length",
                severity="high" if share < SHORT_SHARE / 2 else "medium",
                quote=sentences(section.text)[-1][1],
                suggestion=f"{words:,} words of {section.target_words:,} planned "
                f"({share:.0%}): {'extend' if share < 1 else 'cut'} it.",
            )
        )
    return findings
