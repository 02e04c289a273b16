"""The Textual app: the chain animated hop by hop, live and in slow motion."""

import os

# Textual draws a change at its next frame, at most TEXTUAL_FPS a second: at its default of 60
# a live event waits about 15 ms more for its turn (measured: half the time from an event being
# folded in to the frame that shows it). Frames are drawn only when something changed, so a
# still screen costs nothing more. Read when textual is first imported, which this precedes
# (`dockertrace` loads tracer.tui before the app); one's own TEXTUAL_FPS wins.
os.environ.setdefault("TEXTUAL_FPS", "240")
