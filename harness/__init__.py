"""Scaffolding shared by the tests and the benches: the one scripted fake model
(fake_backend), stand-ins for Ollama and OpenAI-compatible servers (fake_ollama, fake_openai),
a studio process on a free port and headless Chromium (studio), and a studio serving the fake
model at a writer's pace (fake_studio).

It imports the engine and the standard library only, so tests and bench both import it and
neither imports the other (tests import bench only to run a bench). It is not installed with
the package.
"""
