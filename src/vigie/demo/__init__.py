"""A synthetic French university for demos, tests and benchmarks: `generate(out)`."""

from vigie.demo.generator import MANIFEST, generate

__all__ = ["MANIFEST", "generate"]
