"""Execution venues: shadow (marked against the book), paper (exchange simulator), ccxt (testnet/live)."""
