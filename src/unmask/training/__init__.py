"""Training the bundled model: tokenizer, data, the masked-diffusion SFT objective and the training loop."""
