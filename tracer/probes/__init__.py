"""Kernel and process probes: bcc eBPF, a tracefs fallback and a psutil view, one interface."""
