"""The studio's screen: ui.py lays the panels out, holds the only list of them, and wires them.

Panels (app.studio.panels): projects, model and voice (side column); welcome (above the
tabs); brief, plan, writing, manuscript, recaps, section_tools, length_score and review (tabs).
Each panel's widgets dataclass is its Feature (app.studio.feature); the components several
panels touch reach them as `Shared`.
"""

from dataclasses import dataclass

import gradio as gr

from app.studio import service
from app.studio.events import INSTANT
from app.studio.feature import Feature, OpenProject, PageRefresh, ProjectView, Refresh, Shared
from app.studio.language import APPLY_CHOICE, CHOOSE, SWITCH_CHOICES, label
from app.studio.panels import (
    brief,
    length_score,
    manuscript,
    model,
    plan,
    projects,
    recaps,
    review,
    section_tools,
    voice,
    welcome,
    writing,
)
from app.studio.state import Studio

CSS = """
#document, #active-section { font-family: Georgia, serif; line-height: 1.55; }
#active-section .lw-active, .lw-diff.lw-streaming { white-space: pre-wrap; }
.lw-empty { color: #888; }
#progress { min-height: 4.5em; }
.lw-diff { font-family: Georgia, serif; line-height: 1.55; }
.lw-diff ins { background: #d7f5dd; text-decoration: none; }
.lw-diff del { background: #fbd9d9; }
#document details.lw-chapter { border-top: 1px solid #ddd; padding: 0.3em 0; }
#document details.lw-chapter > summary { cursor: pointer; font-weight: 600; font-size: 1.15em; }
#review-passage .lw-review-text { font-family: Georgia, serif; line-height: 1.55;
  white-space: pre-wrap; }
#review-passage mark { background: #ffe58a; }
#document .lw-recap { font-style: italic; color: #555; border-left: 3px solid #ccc;
  padding-left: 0.8em; margin: 0.8em 0; }
"""

LIST_REFRESH_S = 5.0  # the lists show other tabs' changes at least this often

# the page regains focus: the lists show what other tabs changed meanwhile
REFRESH_ON_FOCUS = """() => {
  window.addEventListener('focus', () => document.querySelector('#refresh-lists')?.click());
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') document.querySelector('#refresh-lists')?.click();
  });
}"""


@dataclass
class Screen:
    """The built screen: what panels share, and each panel's widgets (what tests drive)."""

    shared: Shared
    projects: projects.ProjectsWidgets
    model: model.ModelWidgets
    voice: voice.VoiceWidgets
    welcome: welcome.WelcomeWidgets
    brief: brief.BriefWidgets
    plan: plan.PlanWidgets
    writing: writing.WritingWidgets
    manuscript: manuscript.ManuscriptWidgets
    recaps: recaps.RecapWidgets
    sections: section_tools.SectionWidgets
    length: length_score.LengthWidgets
    review: review.ReviewWidgets

    def features(self) -> list[Feature]:
        """Every panel, in the order they show a project and refresh after a run."""
        return [
            self.projects,
            self.model,
            self.voice,
            self.welcome,
            self.brief,
            self.plan,
            self.writing,
            self.manuscript,
            self.recaps,
            self.sections,
            self.length,
            self.review,
        ]


def build(studio: Studio) -> gr.Blocks:
    """The studio as a gr.Blocks app bound to one Studio (store, model host, models folder)."""
    return screen(studio)[0]


def screen(studio: Studio) -> tuple[gr.Blocks, Screen]:
    """The app and its panels."""
    with gr.Blocks(title="longwrite studio", analytics_enabled=False) as demo:
        project_id = gr.State(None)
        last_project = gr.BrowserState(None, storage_key="longwrite-last-project")
        # hidden fields, not gr.State: their values travel with each request from the page
        target = gr.Textbox("", visible="hidden", elem_id="open-target")
        pressed = gr.Textbox("", visible="hidden", elem_id="pressed-target")
        page_refresh = PageRefresh(
            gr.Timer(LIST_REFRESH_S), gr.Button("", visible="hidden", elem_id="refresh-lists")
        )
        with gr.Row():
            with gr.Column(scale=1, min_width=280):
                projects_panel = projects.layout()
                model_panel = model.layout(studio)
                voice_panel = voice.layout(studio)
            with gr.Column(scale=3):
                with gr.Row():
                    title = gr.Markdown(
                        label("app.title_none"), elem_id="project-title", container=False
                    )
                    language = gr.Radio(
                        SWITCH_CHOICES,
                        label=label("app.language"),
                        elem_id="language",
                        scale=0,
                        min_width=200,
                    )
                model_panel.header.render()
                with gr.Row():
                    model_panel.offer.render()
                    model_panel.use_saved.render()
                welcome_panel = welcome.layout()
                with gr.Tabs() as tabs:
                    with gr.Tab(label("tab.brief"), id="brief-tab"):
                        brief_panel = brief.layout()
                    with gr.Tab(label("tab.plan"), id="plan-tab", elem_id="plan-tab"):
                        plan_panel = plan.layout()
                    with gr.Tab(
                        label("tab.write"), id="write-tab", elem_id="write-tab"
                    ) as write_tab:
                        writing_panel = writing.layout()
                        manuscript_panel = manuscript.layout()
                        recaps_panel = recaps.layout()
                        sections_panel = section_tools.layout()
                    with gr.Tab(label("tab.length"), id="length-tab", elem_id="length-tab"):
                        length_panel = length_score.layout()
                    with gr.Tab(label("tab.review"), id="review-tab", elem_id="review-tab"):
                        review_panel = review.layout()
        opened = OpenProject(project_id, last_project, title, target, pressed)
        shared = Shared(
            open=opened,
            tabs=tabs,
            write_tab=write_tab,
            project_list=projects_panel.project_list,
            brief=brief_panel.inputs,
            run=writing_panel.run,
            export_file=writing_panel.export_file,
            rewrite=sections_panel.rewrite_flow(),
            view=ProjectView(opened, []),
            page_refresh=page_refresh,
            model_header=model_panel.header,
        )
        built = Screen(
            shared,
            projects_panel,
            model_panel,
            voice_panel,
            welcome_panel,
            brief_panel,
            plan_panel,
            writing_panel,
            manuscript_panel,
            recaps_panel,
            sections_panel,
            length_panel,
            review_panel,
        )
        features = built.features()
        shared.view.features = features
        shared.refreshes = [
            Refresh(
                lambda project_id, feature=feature: feature.after_run(studio, project_id),
                [project_id],
                feature.after_run_components(),
            )
            for feature in features
            if feature.refreshes_after_run
        ]

        def shown(target, request: gr.Request) -> None:
            service.record_shown(studio, target, (request.session_hash or "") if request else "")

        target.change(shown, [target], None, **INSTANT)

        def left(request: gr.Request) -> None:
            studio.leave((request.session_hash or "") if request else "")

        demo.unload(left)
        demo.load(None, None, None, js=REFRESH_ON_FOCUS)
        demo.load(None, None, [language], js=APPLY_CHOICE)
        language.input(None, [language], None, js=CHOOSE)
        for feature in features:
            feature.wire(studio, shared, demo)
    return demo, built
