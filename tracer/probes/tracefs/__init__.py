"""The tracefs backend: the same tracepoints through a tracefs instance, no compiler needed."""
