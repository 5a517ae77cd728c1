"""Caller-side benchmarks for the hotline: SIP caller, latency probe, load driver."""
