"""Style presets and the writer's own sample: the style block every scene's prompt carries."""

from engine.prompts import Language

PRESETS: dict[Language, dict[str, str]] = {
    "en": {
        "first_person": "Tell it in the first person.",
        "third_person": "Tell it in the third person.",
        "past": "Use the past tense.",
        "present": "Use the present tense.",
        "literary": "Write literary prose: precise images, varied rhythm, subtext.",
        "plain": "Write plain, clear prose: short sentences, no ornament.",
        "dialogue": "Carry the scenes through dialogue.",
    },
    "zh": {
        "first_person": "用第一人称叙述。",
        "third_person": "用第三人称叙述。",
        "past": "以过去的视角叙述已发生的事。",
        "present": "以现在进行的视角叙述，仿佛事情正在发生。",
        "literary": "文笔讲究：意象准确，节奏有变化，含蓄有言外之意。",
        "plain": "文字平实清楚：句子简短，不加修饰。",
        "dialogue": "多用对话推动情节。",
    },
}


def style_text(language: Language, presets: list[str], sample: str) -> str:
    """The style lines for a prompt, or '' when the writer chose none."""
    lines = [PRESETS[language][preset] for preset in presets if preset in PRESETS[language]]
    if sample.strip():
        intro = "照这段文字的文风写：" if language == "zh" else "Match the voice of this sample:"
        lines.append(f"{intro}\n{sample.strip()}")
    return "\n".join(lines)
