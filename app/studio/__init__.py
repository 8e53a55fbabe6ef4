"""The Gradio studio: projects, plan editor, streaming writer, exports. No model code here."""
