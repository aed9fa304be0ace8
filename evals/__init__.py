"""Evaluation of retrieval and grounding."""
