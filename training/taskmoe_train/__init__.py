"""taskmoe training package: tokenizer, model, training loop, export."""
