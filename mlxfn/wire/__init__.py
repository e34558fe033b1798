"""The anti-corruption layer: untrusted JSON → domain values, and domain values → OpenAI JSON."""
