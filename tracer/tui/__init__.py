"""The Textual app: the chain animated hop by hop, live and in slow motion."""
