"""The read-through: what an editor would flag in a draft, each finding pointing at real text.

checks: the deterministic checks (names, repeats, overuse, point of view, tense, length);
model_checks: one schema-held request per section (plan point, bible, recaps);
later: checking later sections against a change; findings: the stored findings and states;
run: the read-through of a project, resumable.

May import: every other engine room; nothing else in the engine imports it.
"""
