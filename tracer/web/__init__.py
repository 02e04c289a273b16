"""The classroom page: the instructor's session served to a room of browsers (SSE)."""
