"""The studio's language: labels translated in the page by Gradio's i18n, messages from the
server in the language of the browser that asked.

The page follows the browser's language (navigator.language) unless the writer chose one with
the switch; the choice is kept in a cookie, which the switch's script reads on every load and
the server reads with each request (Accept-Language otherwise), so both agree.
"""

import gradio as gr
from gradio.context import LocalContext

from engine import messages

COOKIE = "longwrite-lang"
SWITCH_CHOICES = [("English", messages.ENGLISH), ("中文", messages.CHINESE)]

I18N = gr.I18n(**{language: messages.phrasebook(language) for language in messages.LANGUAGES})


def label(key: str):
    """A static text of the layout, translated in the browser (Gradio i18n marker)."""
    return I18N(key)


def current() -> str:
    """The language of the request being handled (English outside a request)."""
    request = LocalContext.request.get(None)
    if request is None:
        return messages.ENGLISH
    chosen = (getattr(request, "cookies", None) or {}).get(COOKIE)
    if chosen in messages.LANGUAGES:
        return chosen
    return messages.language_from_header(request.headers.get("accept-language"))


def t(key: str, **params) -> str:
    """A message from the server, in the current request's language."""
    return messages.text(key, current(), **params)


def status_word(status: str) -> str:
    """A stored status (new, writing, done, stopped, interrupted…) in the reader's language; the
    stored value itself for one the catalogue does not know."""
    key = f"status.{status}"
    return t(key) if key in messages.phrasebook(messages.ENGLISH) else status


def info(key: str, **params) -> None:
    """gr.Info in the reader's language, its title included."""
    gr.Info(t(key, **params), title=t("toast.info"))


def warning(key: str, **params) -> None:
    gr.Warning(t(key, **params), title=t("toast.warning"))


# On load: the page takes the remembered choice (Gradio's own changeLocale, from its core
# module already in the page) and the switch shows the language in use.
APPLY_CHOICE = f"""async () => {{
  const chosen = document.cookie.split('; ').find((c) => c.startsWith('{COOKIE}='));
  const language = chosen ? chosen.split('=')[1] : null;
  if (language) {{
    const core = performance.getEntriesByType('resource').map((e) => e.name)
      .find((name) => /\\/core-[^/]*\\.js$/.test(name));
    if (core) await (await import(core)).changeLocale(language);
  }}
  const shown = language || document.documentElement.lang || navigator.language;
  return shown.toLowerCase().startsWith('zh') ? '{messages.CHINESE}' : '{messages.ENGLISH}';
}}"""

# The switch: remember the choice for a year, then reload so that every server-made text
# (titles, progress, lists) is made again in the new language.
CHOOSE = f"""(language) => {{
  const chosen = document.cookie.split('; ').find((c) => c.startsWith('{COOKIE}='));
  if (chosen && chosen.split('=')[1] === language) return;
  document.cookie = '{COOKIE}=' + language + '; path=/; max-age=31536000; SameSite=Lax';
  location.reload();
}}"""
