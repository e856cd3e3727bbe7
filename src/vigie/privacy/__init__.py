"""Privacy by design: keyed pseudonyms, and the secret that keys them lives outside the lake."""
