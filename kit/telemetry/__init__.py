"""Telemetry: CPU, memory and GPU of the server's framework and of the client, sampled during each cell."""
