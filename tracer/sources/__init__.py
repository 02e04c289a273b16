"""Where events come from: the one picker (replay or live), the live session, the engine."""
