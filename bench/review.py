"""The read-through on a seeded book: a written project (scripted fake backend) with defects
planted at known places: a misspelled name, a sentence copied into a later scene, a phrase used
three times in one scene, a scene switched to the first person, a scene cut to 40 % of its
target. Prints JSON: recall and precision of the deterministic checks (goals 0.9 and 0.8), and
the seconds the read-through of the whole book took (goal: 10 s for 60,000 words).

    python -m bench.review [--words 60000] [--copies 4] [--seed 1]
"""

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from engine.metrics import count_words
from engine.projects.run import run_project
from engine.review.checks import sentences
from engine.review.run import review_rules
from engine.schema import Chapter, Plan, PlanSection, WriteSettings
from engine.store.database import Project, Store
from harness.fake_backend import FakeBackend

SCENE_WORDS = 250
SCENES_PER_CHAPTER = 10
KINDS = ("name", "repeat", "overuse", "pov", "length")
BIBLE = """## Maëlle Roux
Aliases: Maëlle
The harbour pilot, forty, grey-eyed.

## Tobias Wren
The lighthouse keeper's son.

## Harrow
The island town.
"""
_NOUNS = (
    "lantern harbour rope ledger window kettle compass anchor gull shutter stair chart cellar "
    "bell net barrel oar cask lamp pier jetty boathouse sail mast hull tide reef cove beacon "
    "cliff path gate fence orchard chapel market bridge well tower archway alley square quay "
    "crate basket parcel letter envelope ribbon button coat scarf boot glove hat cap cloak "
    "blanket pillow candle match stove chimney hearth table chair bench shelf drawer cupboard "
    "mirror clock watch ring key lock chain hook nail hammer saw chisel plank beam rafter "
    "tile slate brick stone pebble shell driftwood seaweed kelp sand dune marsh reed heron "
    "crab mussel oyster herring mackerel cod gannet puffin tern cormorant seal otter storm "
    "squall fog mist drizzle frost thaw dawn dusk noon evening lamplight moonlight starlight"
).split()
_ADJECTIVES = (
    "old wet cold narrow crooked rusted salted broken quiet heavy faded bright dark small tall "
    "worn patched green grey blue white black red brown copper silver iron wooden paper woollen "
    "bitter sweet sharp dull smooth rough hollow empty full crowded distant nearby hidden open "
    "shut cracked mended stiff loose warm damp dry dusty clean muddy frozen soft hard thin "
    "thick long short"
).split()
_VERBS = (
    "lifted opened closed carried dropped checked counted mended polished folded wrapped "
    "pushed pulled dragged cleaned painted tied untied locked unlocked marked measured weighed "
    "moved turned studied watched noticed touched tested raised lowered emptied filled "
    "fastened loosened hung stacked sorted gathered scraped brushed"
).split()
_PLACES = "beside near behind under across past toward along".split()
_ADVERBS = "slowly quickly carefully quietly twice again gently firmly at last".split()
_SUBJECTS = ("Maëlle", "Tobias", "She", "He")


_THINK = "know think hope doubt fear guess swear suppose".split()


class _Scenes:
    """Generated scenes that never repeat a sentence, nor an adjective and noun within one
    scene: the clean book has no defect of its own, so every other finding is a false one."""

    def __init__(self, rng: random.Random):
        self.rng, self.written, self.pairs = rng, set(), set()

    def _np(self) -> str:
        while (pair := (self.rng.choice(_ADJECTIVES), self.rng.choice(_NOUNS))) in self.pairs:
            pass
        self.pairs.add(pair)
        return f"the {pair[0]} {pair[1]}"

    def _sentence(self, first_person: bool) -> str:
        rng = self.rng
        subject = "I" if first_person else rng.choice(_SUBJECTS)
        shape = rng.randrange(5)
        if shape == 0:
            return (
                f"{subject} {rng.choice(_VERBS)} {self._np()} {rng.choice(_PLACES)} {self._np()}."
            )
        if shape == 1:
            own = "my" if first_person else rng.choice(("her", "his"))
            return (
                f"{subject} {rng.choice(_VERBS)} {own} {rng.choice(_NOUNS)} {rng.choice(_ADVERBS)}."
            )
        if shape == 2:
            speaker = "I" if first_person else rng.choice(("Maëlle", "Tobias", "she", "he"))
            thought = f"I {rng.choice(_THINK)} {self._np()} is {rng.choice(_ADJECTIVES)}"
            return f"“{thought},” {speaker} said."
        if shape == 3:
            return f"{self._np().capitalize()} was {rng.choice(_PLACES)} {self._np()}."
        object_ = "me" if first_person else rng.choice(("her", "him"))
        return (
            f"{self._np().capitalize()} {rng.choice(_VERBS)} {object_} {rng.choice(_ADVERBS)} "
            f"{rng.choice(_PLACES)} {self._np()}."
        )

    def scene(self, words: int, first_person: bool = False) -> str:
        """About `words` words of third-person past narration (first person when asked), in
        paragraphs of five sentences, naming Maëlle in its first sentence."""
        self.pairs = set()
        lead = "I watched Maëlle" if first_person else "Maëlle"
        out = [f"{lead} {self.rng.choice(_VERBS)} {self._np()} {self.rng.choice(_ADVERBS)}."]
        while count_words(" ".join(out)) < words:
            sentence = self._sentence(first_person)
            if sentence not in self.written:
                self.written.add(sentence)
                out.append(sentence)
        return "\n\n".join(" ".join(out[i : i + 5]) for i in range(0, len(out), 5))


def book_plan(words: int) -> Plan:
    scenes = max(words // SCENE_WORDS, 5)
    chapters, rows = [], []
    for number in range(0, scenes, SCENES_PER_CHAPTER):
        chapter = Chapter(
            title=f"Chapter {number // SCENES_PER_CHAPTER + 1}", summary="Tides.", words=SCENE_WORDS
        )
        chapters.append(chapter)
        for scene in range(min(SCENES_PER_CHAPTER, scenes - number)):
            rows.append(
                PlanSection(
                    title=f"Scene {number + scene + 1}",
                    main_point="Work at the harbour.",
                    words=SCENE_WORDS,
                    chapter=chapter.id,
                )
            )
    return Plan(chapters=chapters, sections=rows)


def written_book(store: Store, words: int, seed: int) -> tuple[Project, _Scenes]:
    """A project written by the scripted fake backend: generated scenes, short recaps."""
    scenes = _Scenes(random.Random(seed))

    def script(request) -> str:
        if "recap" in request.messages[-1]["content"].lower():
            return "The harbour work went on."
        return scenes.scene(SCENE_WORDS)

    plan = book_plan(words)
    settings = WriteSettings(style=["third_person", "past"])
    project = store.create_project("Seeded", "A harbour novel.", plan.total_words, BIBLE, settings)
    store.save_plan(project, plan)
    list(run_project(store, project, FakeBackend(script, context_length=32_768)))
    return store.project("Seeded"), scenes


def seed_defects(
    store: Store, project: Project, scenes: _Scenes, copies: int, seed: int
) -> set[tuple[str, str]]:
    """Plant `copies` defects of each kind, each in its own scene (scenes far apart), as new
    versions of those scenes; returns the (section id, kind) places."""
    rng = random.Random(f"defects {seed}")  # not the writer's sequence: no scene comes back
    sections = store.sections(project)
    plan = store.plan(project)
    picks = rng.sample(range(1, len(sections)), copies * len(KINDS))
    planted = set()
    for number, index in enumerate(picks):
        kind, section = KINDS[number % len(KINDS)], sections[index]
        text = section.text
        if kind == "name":
            text = text.replace("Maëlle", "Maele", 1)
        elif kind == "repeat":
            source = sections[rng.choice([i for i in range(index) if i not in picks])].text
            copied = max((s for _, s in sentences(source)), key=len)
            text = text.replace("\n\n", f" {copied}\n\n", 1)
        elif kind == "overuse":
            parts = text.split(". ")
            for at in (1, 4, 7):
                parts[at] += ", with a heavy heart"
            text = ". ".join(parts)
        elif kind == "pov":
            text = scenes.scene(plan.sections[index].words, first_person=True)
        else:
            words = text.split(" ")
            text = " ".join(words[: int(len(words) * 0.4)]).rstrip(",;") + "."
        version = store.start_section(project, section.section_id, text)
        store.save_section(version, text, 0, done=True)
        planted.add((section.section_id, kind))
    return planted


def score(found: set[tuple[str, str]], planted: set[tuple[str, str]]) -> dict:
    hits = found & planted
    return {
        "seeded": len(planted),
        "findings": len(found),
        "recall": round(len(hits) / max(len(planted), 1), 3),
        "precision": round(len(hits) / max(len(found), 1), 3),
        "recall_by_kind": {
            kind: round(
                len({p for p in hits if p[1] == kind})
                / max(len({p for p in planted if p[1] == kind}), 1),
                3,
            )
            for kind in KINDS
        },
        "false_positives": sorted(kind for _, kind in found - planted),
    }


def run(db_path: Path, words: int, copies: int, seed: int) -> dict:
    store = Store(db_path)
    project, scenes = written_book(store, words, seed)
    planted = seed_defects(store, project, scenes, copies, seed)
    started = time.perf_counter()
    findings = review_rules(store, project)
    seconds = time.perf_counter() - started
    text_words = sum(count_words(s.text) for s in store.sections(project))
    report = score({(f.section_id, f.kind) for f in findings}, planted)
    return {
        "words": text_words,
        "sections": len(store.sections(project)),
        "review_seconds": round(seconds, 2),
        **report,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--words", type=int, default=60_000)
    parser.add_argument("--copies", type=int, default=4, help="defects of each kind")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        print(
            json.dumps(
                run(Path(folder) / "review.db", args.words, args.copies, args.seed), indent=2
            )
        )


if __name__ == "__main__":
    main()
