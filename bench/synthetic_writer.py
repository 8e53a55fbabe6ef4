"""A synthetic writer with measurable habits, generated from templates (no copied text).

Their prose is in the second person and the present tense, in short sentences, and leans on a
fixed set of favourite words. `habits(text)` measures the same four habits in any text, so a
voice trained on this writer can be scored on how far its text moved toward theirs.
"""

import random
import re

FAVOURITES = ("amber", "hush", "quietly", "threshold", "lantern", "salt")
PLACES = ("kitchen", "harbour", "station", "orchard", "stairwell", "ferry", "market", "attic")
THINGS = ("letter", "key", "coat", "cup", "photograph", "ticket", "knife", "map")
PEOPLE = ("your sister", "the neighbour", "your father", "the stranger", "the driver", "Mara")
SENTENCES = (
    "You open the {thing}.",
    "You stand at the {fav} {place}.",
    "You wait {quietly}.",
    "The {place} is {fav}.",
    "You hear {person} on the stairs.",
    "You hold the {thing} to the {fav} light.",
    "You keep the {thing} in your pocket.",
    "{Person} says your name.",
    "You do not answer.",
    "You count the steps to the {place}.",
    "The {fav} air tastes of salt.",
    "You cross the threshold {quietly}.",
    "You set the {thing} down.",
    "{Person} looks at you.",
    "You breathe in the hush.",
    "You walk to the {place}.",
    "The lantern burns low.",
    "You remember the {thing}.",
)
TITLES = ("The {place}", "A {thing} at dusk", "Before the {place}", "What {person} kept")
_WORD = re.compile(r"[A-Za-z']+")
_SENTENCE = re.compile(r"[^.!?]+[.!?]")
PAST_MARKERS = {"was", "were", "had", "did", "said", "went", "looked", "stood", "walked"}
PRESENT_MARKERS = {"is", "are", "says", "looks", "do", "open", "stand", "wait", "hear", "hold"}
PRESENT_MARKERS |= {"keep", "count", "cross", "set", "breathe", "walk", "remember", "burns"}


def _sentence(rng: random.Random) -> str:
    person = rng.choice(PEOPLE)
    return rng.choice(SENTENCES).format(
        thing=rng.choice(THINGS),
        place=rng.choice(PLACES),
        fav=rng.choice(("amber", "salt", "hush")),
        quietly=rng.choice(("quietly", "by the lantern", "at the threshold")),
        person=person,
        Person=person[:1].upper() + person[1:],
    )


def section(rng: random.Random, words: int) -> str:
    """About `words` words of the writer's prose in paragraphs of four to seven sentences."""
    paragraphs, count = [], 0
    while count < words:
        sentences = [_sentence(rng) for _ in range(rng.randint(4, 7))]
        paragraphs.append(" ".join(sentences))
        count += sum(len(s.split()) for s in sentences)
    return "\n\n".join(paragraphs)


def manuscript(seed: int = 0, pieces: int = 3, sections: int = 6, words: int = 220) -> str:
    """A Markdown manuscript: `pieces` stories of `sections` headed scenes of about `words`
    words each, separated by level-1 headings, the same for the same seed."""
    rng = random.Random(seed)
    parts = []
    for story in range(pieces):
        title = rng.choice(TITLES).format(
            place=rng.choice(PLACES), thing=rng.choice(THINGS), person=rng.choice(PEOPLE)
        )
        parts.append(f"# Story {story + 1}: {title}")
        for number in range(sections):
            parts.append(f"## Scene {number + 1}")
            parts.append(section(rng, words))
    return "\n\n".join(parts) + "\n"


def habits(text: str) -> dict[str, float]:
    """The writer's four habits measured in a text: the share of sentences with "you", the
    present tense's share of tense markers, favourite words per 100 words, and mean sentence
    length in words."""
    words = [w.lower() for w in _WORD.findall(text)]
    sentences = [s for s in _SENTENCE.findall(text) if _WORD.search(s)]
    if not words or not sentences:
        return {"second_person": 0.0, "present": 0.0, "favourites": 0.0, "sentence_words": 0.0}
    you = sum(1 for s in sentences if re.search(r"\byou(r)?\b", s, re.I))
    past = sum(w in PAST_MARKERS for w in words)
    present = sum(w in PRESENT_MARKERS for w in words)
    favourites = sum(w in FAVOURITES for w in words)
    return {
        "second_person": you / len(sentences),
        "present": present / max(present + past, 1),
        "favourites": 100 * favourites / len(words),
        "sentence_words": len(words) / len(sentences),
    }


def distance(measured: dict[str, float], target: dict[str, float]) -> float:
    """How far a text's habits are from the writer's: the mean of each habit's gap, scaled so
    each habit counts alike (shares as they are, favourites per 10 words, sentence length per
    20 words)."""
    scale = {"second_person": 1.0, "present": 1.0, "favourites": 10.0, "sentence_words": 20.0}
    gaps = [abs(measured[k] - target[k]) / scale[k] for k in scale]
    return sum(gaps) / len(gaps)
