"""Lessons: the model, the Markdown parser, the judge, the walk through a recording; no Textual."""
