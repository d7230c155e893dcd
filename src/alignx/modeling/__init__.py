"""The base model: tiny Llama or a local HF model, its tokenizer, response log-probs."""
