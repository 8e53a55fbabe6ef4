"""Evaluation: LongBench-Write and LongWrite-Ruler runners, the quality judge, reports and plots.

Imports only the engine, the standard library, pydantic, matplotlib and tqdm (no torch).
"""
