"""Personalized generation: decoding, the known-truth judge, the LLM judge, controllability, serving."""
