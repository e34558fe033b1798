"""Pure domain values: requests, messages, refined scalars, engine events, the error set, and
what a model's config says (its context and vocabulary)."""
