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


@dataclass
class _Body:
    """What the lines after the title add up to, as the pass goes."""

    meta: list[tuple[str, str, int]] = field(default_factory=list)  # key, value, line
    intro: list[str] = field(default_factory=list)
    steps: list[_StepDraft] = field(default_factory=list)
    fence: tuple[str, int] | None = None  # info string and line of an open ``` block
    fenced: list[str] = field(default_factory=list)


@dataclass
class _StepFields:
    """A step's fields, read."""

    action: Action | None = None
    evidence: list[Selector] = field(default_factory=list)
    absent: list[Selector] = field(default_factory=list)
    output: list[OutputCheck] = field(default_factory=list)
    show: list[str] = field(default_factory=list)
    single: dict[str, tuple[str, int]] = field(default_factory=dict)  # key: value, line


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
        title, title_line, n = self._title()
        body = _Body()
        for i in range(n, len(self.lines)):
            self._line(body, self.lines[i], i + 1)
        if body.fence is not None:
            self.error(body.fence[1], "this ``` block is never closed")
        intro = "\n".join(body.intro).strip()
        lesson = self._lesson(title, title_line, body.meta, intro, body.steps)
        if self.errors:
            raise LessonFileError(sorted(self.errors, key=lambda e: e.line))
        return lesson

    def _title(self) -> tuple[str, int, int]:
        """The lesson's title, its line, and the index of the first line after it."""
        n = 0
        while n < len(self.lines) and not self.lines[n].strip():
            n += 1
        if n < len(self.lines) and self.lines[n].startswith("# "):
            return self.lines[n][2:].strip(), n + 1, n + 1
        self.error(n + 1, "a lesson starts with its title: '# Title'")
        return "", n + 1, n

    def _line(self, body: _Body, raw: str, line: int) -> None:
        step = body.steps[-1] if body.steps else None
        if body.fence is not None:
            self._fenced(body, step, raw)
        elif raw.strip().startswith("```"):
            body.fence = (raw.strip()[3:].strip(), line)
            if body.fence[0] == "run" and step is None:
                self.error(line, "a ```run block belongs in a step")
        elif raw.startswith("## "):
            self._heading(body, raw, line)
        elif raw.startswith("# "):
            self.error(line, "only the first line is a '# Title'; steps are '## Step N: Title'")
        elif step is None:
            kv = self._key(raw, line, LESSON_FIELDS, "in a step (after '## Step N: Title')")
            if kv:
                body.meta.append((*kv, line))
            else:
                body.intro.append(raw)
        else:
            kv = self._key(raw, line, STEP_FIELDS, "before the first step, with the title")
            if kv:
                step.fields.append((*kv, line))
            else:
                step.narration.append(raw)

    def _fenced(self, body: _Body, step: _StepDraft | None, raw: str) -> None:
        """A line inside a ``` block: kept, until the closing fence ends the block."""
        assert body.fence is not None
        if not raw.strip().startswith("```"):
            body.fenced.append(raw)
            return
        info, line = body.fence
        if info == "run" and step is not None:
            self._set_block(step, "\n".join(body.fenced), line)
        elif step is not None:
            step.narration.extend([f"```{info}", *body.fenced, raw])
        else:
            body.intro.extend([f"```{info}", *body.fenced, raw])
        body.fence, body.fenced = None, []

    def _heading(self, body: _Body, raw: str, line: int) -> None:
        m = _STEP_HEADING.match(raw)
        expected = len(body.steps) + 1
        if not m:  # still a step, so that its fields are not reported as misplaced
            self.error(line, "a '## ' heading must be '## Step N: Title'")
        elif int(m.group(1)) != expected:
            self.error(line, f"steps are numbered in order: expected 'Step {expected}'")
        heading = m.group(2).strip() if m else raw[3:].strip()
        body.steps.append(_StepDraft(expected, heading, line))

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
        values, env, cleanup = self._meta(meta)
        for key in ("goal", "duration", "needs"):
            if key not in values:
                self.error(title_line, f"missing '{key}:' (put it under the title)")
        duration = self._duration(values)
        needs = self._needs(values)
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

    def _meta(
        self, meta: list[tuple[str, str, int]]
    ) -> tuple[dict[str, tuple[str, int]], list[tuple[str, str]], list[str]]:
        """The lesson's fields: the single ones (value, line), then env and cleanup."""
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
        return values, env, cleanup

    def _duration(self, values: dict[str, tuple[str, int]]) -> int:
        if "duration" not in values:
            return 0
        text, line = values["duration"]
        m = _DURATION.match(text)
        if m:
            return int(m.group(1))
        self.error(line, f"duration is minutes, like '10 min', not {text!r}")
        return 0

    def _needs(self, values: dict[str, tuple[str, int]]) -> frozenset[str]:
        if "needs" not in values:
            return frozenset()
        text, line = values["needs"]
        needs = frozenset(w.strip() for w in text.split(",") if w.strip())
        if not needs or not needs <= NEEDS:
            self.error(line, f"needs is 'live' or 'live, replay', not {text!r}")
        return needs

    def _step(self, d: _StepDraft) -> LessonStep:
        f = self._step_fields(d)
        action, evidence, output = f.action, f.evidence, f.output
        narration = "\n".join(d.narration).strip()
        if not narration:
            self.error(d.line, f"step {d.number} has no narration: say what the learner will see")

        if action is None and (evidence or f.absent or output):
            line = (evidence or f.absent or output)[0].line
            self.error(line, "evidence needs an action to watch: add 'run:' or 'do:' to the step")
        if action is not None and not (evidence or output):
            self.error(action.line, "an action needs evidence that completes it ('evidence:')")

        question = self._question(f.single)
        return LessonStep(
            number=d.number,
            title=d.title,
            line=d.line,
            narration=narration,
            action=action,
            evidence=tuple(evidence),
            absent=tuple(f.absent),
            output=tuple(output),
            show=tuple(f.show),
            question=question,
            optional=f.single.get("optional", ("", 0))[0],
        )

    def _step_fields(self, d: _StepDraft) -> _StepFields:
        f = _StepFields()
        if d.block is not None:
            f.action = Action("run", d.block[0], d.block[1])
        for key, value, line in d.fields:
            if not value:
                self.error(line, f"'{key}:' has no value")
            elif key in ("run", "do"):
                self._action(f, key, value, line)
            elif key in ("evidence", "absent"):
                pairs, why = check_selector(value, need_kind=key == "evidence")
                if why:
                    self.error(line, f"{key} {value!r}: {why}")
                else:
                    (f.evidence if key == "evidence" else f.absent).append(
                        Selector(value, line, pairs)
                    )
            elif key == "output":
                f.output.append(OutputCheck(value, line))
            elif key == "show":
                if value not in SHOWS:
                    self.error(line, f"show is one of: {', '.join(sorted(SHOWS))}")
                f.show.append(value)
            elif key in f.single:
                self.error(
                    line, f"'{key}:' given twice in a step (first on line {f.single[key][1]})"
                )
            else:
                f.single[key] = (value, line)
        return f

    def _action(self, f: _StepFields, key: str, value: str, line: int) -> None:
        if f.action is not None:
            self.error(line, f"a step has one action; the first is on line {f.action.line}")
            return
        if key == "do" and value.split()[0] not in APP_ACTIONS:
            known = ", ".join(APP_ACTIONS)
            self.error(line, f"unknown app action '{value.split()[0]}' (known: {known})")
        f.action = Action(key, value, line)

    def _question(self, single: dict[str, tuple[str, int]]) -> Question | None:
        if "question" not in single:
            for key in ("answer", "explain"):
                if key in single:
                    self.error(single[key][1], f"'{key}:' without a 'question:'")
            return None
        text, line = single["question"]
        if "answer" not in single:
            self.error(line, "a question needs an 'answer:'")
        if "explain" not in single:
            self.error(line, "a question needs an 'explain:' (why the answer is right)")
        answers = tuple(a.strip() for a in single.get("answer", ("", 0))[0].split("|"))
        return Question(text, answers, single.get("explain", ("", 0))[0], line)
