"""Training and evaluation inputs: personas and profiles rendered into prompts, tokenized examples."""
