"""Pure domain values: requests, messages, refined scalars, engine events and the error set."""
