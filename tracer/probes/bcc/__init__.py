"""The bcc backend: eBPF on tracepoints, filtered in the kernel, read from a ring buffer."""
