"""Answering: condense, retrieve, quote and compose, the LLM writer and its guard, as a pipeline."""
