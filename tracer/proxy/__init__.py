"""The recording proxy: forwards the Docker API byte for byte and records what passes."""
