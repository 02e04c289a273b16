"""The lesson files in lessons/: list, find, load and validate them."""

from __future__ import annotations

from pathlib import Path

from tracer.lessons.model import LESSONS_DIR, Lesson, LessonError, LessonFileError
from tracer.lessons.parse import LessonParser


def lesson_files(directory: Path = LESSONS_DIR) -> list[Path]:
    """The lesson files, in order: NN-name.md (README.md and others are not lessons)."""
    return sorted(p for p in directory.glob("[0-9][0-9]-*.md") if p.is_file())


def load_all(directory: Path = LESSONS_DIR) -> list[Lesson]:
    return [load(p) for p in lesson_files(directory)]


def find(number: int, directory: Path = LESSONS_DIR) -> Lesson:
    for p in lesson_files(directory):
        if int(p.name[:2]) == number:
            return load(p)
    known = ", ".join(str(int(p.name[:2])) for p in lesson_files(directory))
    raise LookupError(f"no lesson {number} in {directory} (there are: {known or 'none'})")


def load(path: str | Path) -> Lesson:
    """Parse and validate a lesson file; raises LessonFileError listing every problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise LessonFileError([LessonError(p, 1, f"cannot read: {e}")]) from e
    return LessonParser(p, text).lesson()


def validate(path: str | Path) -> list[LessonError]:
    try:
        load(path)
    except LessonFileError as e:
        return e.errors
    return []
