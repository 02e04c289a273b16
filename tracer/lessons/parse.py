"""The lesson file parser: one pass over the lines, every problem reported with its line."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

from tracer.lessons.model import (
    APP_ACTIONS,
    LESSON_FIELDS,
    NEEDS,
    SHOWS,
    STEP_FIELDS,
    Action,
    Lesson,
    LessonError,
    LessonFileError,
    LessonStep,
    OutputCheck,
    Question,
    Selector,
    check_selector,
)

_KEY_LINE = re.compile(r"^([a-z][a-z-]*):(?:\s+(.*))?$")
_STEP_HEADING = re.compile(r"^##\s+Step\s+(\d+)\s*:\s*(\S.*)$")
_DURATION = re.compile(r"^(\d+)\s*(?:min|mins|minutes?)$")
_ENV = re.compile(r"^([A-Za-z_]\w*)=(.*)$")


@dataclass
class _StepDraft:
    number: int
    title: str
    line: int
    narration: list[str] = field(default_factory=list)
    fields: list[tuple[str, str, int]] = field(default_factory=list)  # key, value, line
    block: tuple[str, int] | None = None  # a ```run block: script, line


class LessonParser:
    """One pass over the lines; every problem becomes a LessonError, all reported together."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()
        self.errors: list[LessonError] = []

    def error(self, line: int, message: str) -> None:
        self.errors.append(LessonError(self.path, line, message))

    def _key(
        self, raw: str, line: int, here: tuple[str, ...], there: str
    ) -> tuple[str, str] | None:
        """A `key: value` line for this part of the file, or None for narration."""
        m = _KEY_LINE.match(raw)
        if not m:
            return None
        key, value = m.group(1), (m.group(2) or "").strip()
        if key in here:
            return key, value
        if key in LESSON_FIELDS + STEP_FIELDS:
            self.error(line, f"'{key}:' belongs {there}")
            return None
        close = difflib.get_close_matches(key, LESSON_FIELDS + STEP_FIELDS, n=1, cutoff=0.75)
        if close:
            self.error(line, f"unknown field '{key}:' (did you mean '{close[0]}:'?)")
        return None

    def lesson(self) -> Lesson:
        n = 0
        while n < len(self.lines) and not self.lines[n].strip():
            n += 1
        title_line = n + 1
        title = ""
        if n < len(self.lines) and self.lines[n].startswith("# "):
            title = self.lines[n][2:].strip()
            n += 1
        else:
            self.error(title_line, "a lesson starts with its title: '# Title'")
        meta: list[tuple[str, str, int]] = []
        intro: list[str] = []
        steps: list[_StepDraft] = []
        fence: tuple[str, int] | None = None  # info string and line of an open ``` block
        fenced: list[str] = []
        for i in range(n, len(self.lines)):
            raw, line = self.lines[i], i + 1
            step = steps[-1] if steps else None
            if fence is not None:
                if raw.strip().startswith("```"):
                    if fence[0] == "run" and step is not None:
                        self._set_block(step, "\n".join(fenced), fence[1])
                    elif step is not None:
                        step.narration.extend([f"```{fence[0]}", *fenced, raw])
                    else:
                        intro.extend([f"```{fence[0]}", *fenced, raw])
                    fence, fenced = None, []
                else:
                    fenced.append(raw)
                continue
            if raw.strip().startswith("```"):
                fence = (raw.strip()[3:].strip(), line)
                if fence[0] == "run" and step is None:
                    self.error(line, "a ```run block belongs in a step")
                continue
            if raw.startswith("## "):
                m = _STEP_HEADING.match(raw)
                expected = len(steps) + 1
                if not m:  # still a step, so that its fields are not reported as misplaced
                    self.error(line, "a '## ' heading must be '## Step N: Title'")
                elif int(m.group(1)) != expected:
                    self.error(line, f"steps are numbered in order: expected 'Step {expected}'")
                heading = m.group(2).strip() if m else raw[3:].strip()
                steps.append(_StepDraft(expected, heading, line))
                continue
            if raw.startswith("# "):
                self.error(line, "only the first line is a '# Title'; steps are '## Step N: Title'")
                continue
            if step is None:
                kv = self._key(raw, line, LESSON_FIELDS, "in a step (after '## Step N: Title')")
                if kv:
                    meta.append((*kv, line))
                else:
                    intro.append(raw)
            else:
                kv = self._key(raw, line, STEP_FIELDS, "before the first step, with the title")
                if kv:
                    step.fields.append((*kv, line))
                else:
                    step.narration.append(raw)
        if fence is not None:
            self.error(fence[1], "this ``` block is never closed")
        lesson = self._lesson(title, title_line, meta, "\n".join(intro).strip(), steps)
        if self.errors:
            raise LessonFileError(sorted(self.errors, key=lambda e: e.line))
        return lesson

    def _set_block(self, step: _StepDraft, script: str, line: int) -> None:
        if step.block is not None:
            self.error(line, f"a step has one ```run block; the first is on line {step.block[1]}")
        step.block = (script, line)

    def _lesson(
        self,
        title: str,
        title_line: int,
        meta: list[tuple[str, str, int]],
        intro: str,
        drafts: list[_StepDraft],
    ) -> Lesson:
        values: dict[str, tuple[str, int]] = {}
        env: list[tuple[str, str]] = []
        cleanup: list[str] = []
        for key, value, line in meta:
            if not value:
                self.error(line, f"'{key}:' has no value")
            elif key == "env":
                m = _ENV.match(value)
                if m:
                    env.append((m.group(1), m.group(2)))
                else:
                    self.error(line, "env is 'NAME=value'")
            elif key == "cleanup":
                cleanup.append(value)
            elif key in values:
                self.error(line, f"'{key}:' given twice (first on line {values[key][1]})")
            else:
                values[key] = (value, line)
        for key in ("goal", "duration", "needs"):
            if key not in values:
                self.error(title_line, f"missing '{key}:' (put it under the title)")
        duration = 0
        if "duration" in values:
            text, line = values["duration"]
            m = _DURATION.match(text)
            if m:
                duration = int(m.group(1))
            else:
                self.error(line, f"duration is minutes, like '10 min', not {text!r}")
        needs: frozenset[str] = frozenset()
        if "needs" in values:
            text, line = values["needs"]
            needs = frozenset(w.strip() for w in text.split(",") if w.strip())
            if not needs or not needs <= NEEDS:
                self.error(line, f"needs is 'live' or 'live, replay', not {text!r}")
        recording = values.get("recording", ("", 0))
        if "replay" in needs and not recording[0]:
            self.error(values["needs"][1], "needs replay, so 'recording: FILE' must say which")
        if recording[0] and "replay" not in needs:
            self.error(recording[1], "a recording is only used with 'needs: live, replay'")
        steps = [self._step(d) for d in drafts]
        if not drafts:
            self.error(len(self.lines) or 1, "no steps: add '## Step 1: Title' and its narration")
        m = re.match(r"^(\d+)-", self.path.name)
        return Lesson(
            path=self.path,
            number=int(m.group(1)) if m else 0,
            title=title,
            goal=values.get("goal", ("", 0))[0],
            duration_min=duration,
            needs=needs,
            intro=intro,
            recording=recording[0],
            env=tuple(env),
            cleanup=tuple(cleanup),
            steps=tuple(steps),
        )

    def _step(self, d: _StepDraft) -> LessonStep:
        action: Action | None = None
        if d.block is not None:
            action = Action("run", d.block[0], d.block[1])
        evidence: list[Selector] = []
        absent: list[Selector] = []
        output: list[OutputCheck] = []
        show: list[str] = []
        single: dict[str, tuple[str, int]] = {}
        for key, value, line in d.fields:
            if not value:
                self.error(line, f"'{key}:' has no value")
                continue
            if key in ("run", "do"):
                if action is not None:
                    self.error(line, f"a step has one action; the first is on line {action.line}")
                    continue
                if key == "do" and value.split()[0] not in APP_ACTIONS:
                    known = ", ".join(APP_ACTIONS)
                    self.error(line, f"unknown app action '{value.split()[0]}' (known: {known})")
                action = Action(key, value, line)
            elif key in ("evidence", "absent"):
                pairs, why = check_selector(value, need_kind=key == "evidence")
                if why:
                    self.error(line, f"{key} {value!r}: {why}")
                else:
                    (evidence if key == "evidence" else absent).append(Selector(value, line, pairs))
            elif key == "output":
                output.append(OutputCheck(value, line))
            elif key == "show":
                if value not in SHOWS:
                    self.error(line, f"show is one of: {', '.join(sorted(SHOWS))}")
                show.append(value)
            elif key in single:
                self.error(line, f"'{key}:' given twice in a step (first on line {single[key][1]})")
            else:
                single[key] = (value, line)
        narration = "\n".join(d.narration).strip()
        if not narration:
            self.error(d.line, f"step {d.number} has no narration: say what the learner will see")

        if action is None and (evidence or absent or output):
            line = (evidence or absent or output)[0].line
            self.error(line, "evidence needs an action to watch: add 'run:' or 'do:' to the step")
        if action is not None and not (evidence or output):
            self.error(action.line, "an action needs evidence that completes it ('evidence:')")

        question = None
        if "question" in single:
            text, line = single["question"]
            if "answer" not in single:
                self.error(line, "a question needs an 'answer:'")
            if "explain" not in single:
                self.error(line, "a question needs an 'explain:' (why the answer is right)")
            answers = tuple(a.strip() for a in single.get("answer", ("", 0))[0].split("|"))
            question = Question(text, answers, single.get("explain", ("", 0))[0], line)
        else:
            for key in ("answer", "explain"):
                if key in single:
                    self.error(single[key][1], f"'{key}:' without a 'question:'")
        return LessonStep(
            number=d.number,
            title=d.title,
            line=d.line,
            narration=narration,
            action=action,
            evidence=tuple(evidence),
            absent=tuple(absent),
            output=tuple(output),
            show=tuple(show),
            question=question,
            optional=single.get("optional", ("", 0))[0],
        )
