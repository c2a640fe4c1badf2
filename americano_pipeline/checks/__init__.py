"""Data-quality gates: Pandera schemas from the source DDL and the blocking asset checks built from them."""
