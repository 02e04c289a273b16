"""The `--plain` walker: a lesson step by step in the terminal, live or from a recording."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

from tracer.events import Event
from tracer.lessons.model import Finding, Lesson, LessonStep, complete, judge
from tracer.record.format import read_recording
from tracer.text.describe import describe
from tracer.text.narrate import narrate
from tracer.text.story import fold

EVIDENCE_WAIT_S = 5.0  # after the action ends, how long late events may take to arrive
POLL_S = 0.1


@dataclass
class ActionResult:
    """What an action did: its output and exit status, the time window to look for evidence
    in, or why it could not run at all (`unavailable`) or was left out on purpose (`skipped`)."""

    output: str = ""
    returncode: int | None = None
    start_ns: int = 0
    end_ns: int = 0
    unavailable: str = ""
    skipped: str = ""


class Stage(Protocol):
    """Where actions happen and events come from: the live machine, or a recording."""

    mode: str  # "live" | "replay"

    def banner(self) -> str: ...

    def act(self, step: LessonStep) -> ActionResult: ...

    def events(self, start_ns: int, end_ns: int | None = None) -> list[Event]: ...

    def end(self) -> None: ...


class ReplayStage:
    """A recorded lesson run: actions are not run; their recorded output and events are shown."""

    mode = "replay"

    def __init__(self, lesson: Lesson, path: str) -> None:
        self.recording = read_recording(path)
        header = self.recording.header
        if header.get("lesson") not in (None, lesson.number):
            raise ValueError(f"{path} is a recording of lesson {header.get('lesson')}")
        self.steps: dict[int, dict[str, Any]] = {
            int(s["number"]): s for s in header.get("lesson_steps", []) if "number" in s
        }
        self.path = path
        self.backend = str(header.get("backend", ""))

    def banner(self) -> str:
        h = self.recording.header
        versions = ", ".join(f"{k} {v}" for k, v in (h.get("versions") or {}).items())
        lines = [
            "REPLAY: nothing runs on this machine. "
            f"Recorded {h.get('recorded_at', '(date unknown)')} on kernel {h.get('kernel', '?')}"
            + (f", {versions}" if versions else ""),
            f"probe backend {h.get('backend', '?')}; recording {self.path}",
        ]
        lines += [f"recording problem: {p}" for p in self.recording.problems]
        return "\n".join(lines)

    def act(self, step: LessonStep) -> ActionResult:
        s = self.steps.get(step.number)
        if s is None:
            return ActionResult(unavailable="this step is not in the recording")
        return ActionResult(
            output=str(s.get("output", "")),
            returncode=s.get("returncode"),
            start_ns=int(s.get("start_ns", 0)),
            end_ns=int(s.get("end_ns", 0)),
            unavailable=str(s.get("unavailable", "")),
            skipped=str(s.get("skipped", "")),
        )

    def events(self, start_ns: int, end_ns: int | None = None) -> list[Event]:
        return [
            ev
            for ev in self.recording.events
            if ev.time_ns >= start_ns and (end_ns is None or ev.time_ns <= end_ns)
        ]

    def end(self) -> None:
        pass


def await_evidence(
    stage: Stage,
    step: LessonStep,
    result: ActionResult,
    wait_s: float,
    seen: Callable[[list[Finding], list[Event]], None] | None = None,
) -> list[Finding]:
    """Judge the step against the events of its window until it is proved or, live, until
    `wait_s` has passed (late kernel events arrive after the command ends); `seen` is told of
    each round. A replay is judged once: its events are all there."""
    deadline = time.monotonic() + (wait_s if stage.mode == "live" else 0)
    while True:
        events = stage.events(result.start_ns, result.end_ns or None)
        findings = judge(step, events, result.output, ended=True)
        if seen is not None:
            seen(findings, events)
        if complete(findings) or time.monotonic() >= deadline or result.unavailable:
            return findings
        time.sleep(POLL_S)


class Quit(Exception):
    """The learner asked to stop (q, or end of input)."""


class PlainWalker:
    """Prints each step, runs its action on the stage, waits for its evidence, asks its question."""

    def __init__(
        self,
        lesson: Lesson,
        stage: Stage,
        inp: TextIO,
        out: TextIO,
        evidence_wait_s: float = EVIDENCE_WAIT_S,
    ) -> None:
        self.lesson, self.stage, self.inp, self.out = lesson, stage, inp, out
        self.wait_s = evidence_wait_s
        self.proved: list[int] = []
        self.left: list[int] = []  # not proved
        self.excused: list[int] = []  # optional steps not proved (e.g. left out on purpose)

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def ask(self, prompt: str) -> str:
        print(prompt, end="", file=self.out, flush=True)
        line = self.inp.readline()
        if not line:
            self.say()
            raise Quit
        reply = line.strip()
        if not self.inp.isatty():  # a scripted walk: show what was answered, as a terminal would
            self.say(reply)
        if reply.lower() in ("q", "quit"):
            raise Quit
        return reply

    def walk(self) -> int:
        """0 when every step was proved by its evidence, 1 when some was not, 130 on quit."""
        lesson = self.lesson
        self.say(f"{lesson.label}: {lesson.title}  ({lesson.duration_min} min)")
        self.say(f"Goal: {lesson.goal}")
        self.say(self.stage.banner())
        if lesson.intro:
            self.say()
            self.say(lesson.intro)
        try:
            for step in lesson.steps:
                self.step(step)
        except Quit:
            self.say(f"Stopped at your request; {len(self.proved)} step(s) proved.")
            return 130
        total = len(lesson.steps)
        self.say()
        self.say(f"{lesson.label} done: {len(self.proved)} of {total} steps proved.")
        if self.excused:
            self.say("Left out (optional): step " + ", ".join(map(str, self.excused)))
        if self.left:
            self.say("Not proved: step " + ", ".join(map(str, self.left)))
        return 0 if not self.left else 1

    def step(self, step: LessonStep) -> None:
        n = len(self.lesson.steps)
        self.say()
        self.say(f"── Step {step.number}/{n}: {step.title}")
        self.say(step.narration)
        if step.action is not None:
            self.run_action(step)
        else:
            self.proved.append(step.number)
        if step.question is not None:
            self.question(step)

    def run_action(self, step: LessonStep) -> None:
        action = step.action
        assert action is not None
        shown = action.text if action.kind == "run" else f"[dockertrace {action.text}]"
        self.say()
        if action.kind == "run":
            first, *rest = shown.splitlines() or [""]
            self.say("\n".join([f"  $ {first}", *(f"    {line}" for line in rest)]))
        else:
            self.say(f"  {shown}")
        while True:
            verb = "show" if self.stage.mode == "replay" else "run"
            reply = self.ask(f"Enter: {verb} it · s: skip · q: quit > ")
            if reply.lower() == "s":
                self.say("  skipped")
                (self.excused if step.optional else self.left).append(step.number)
                return
            result = self.stage.act(step)
            findings = self.observe(step, result)
            if result.skipped:
                self.say(f"  – {result.skipped}")
                (self.excused if step.optional else self.left).append(step.number)
                return
            if result.unavailable:
                self.say(f"  ✗ this step cannot run here: {result.unavailable}")
            if findings and complete(findings):
                self.say("  ✓ proved by what the machine showed")
                self.proved.append(step.number)
                self.show(step, result)
                return
            if step.optional:
                self.say(f"  – not proved, and that is allowed here: {step.optional}")
                self.excused.append(step.number)
                return
            if self.stage.mode == "replay" or result.unavailable:
                self.left.append(step.number)
                return
            again = self.ask("  r: run it again · Enter: go on without the proof · q: quit > ")
            if again.lower() != "r":
                self.left.append(step.number)
                return

    def observe(self, step: LessonStep, result: ActionResult) -> list[Finding]:
        """Print the action's output, wait (live) for its evidence, print each finding."""
        if result.output.strip():
            self.say(textwrap.indent(result.output.rstrip("\n"), "  │ "))
        if result.returncode not in (None, 0):
            self.say(f"  (exit status {result.returncode})")
        if result.unavailable or result.skipped:
            return []
        findings = await_evidence(self.stage, step, result, self.wait_s)
        for f in findings:
            self.say("  " + describe_finding(f))
        return findings

    def show(self, step: LessonStep, result: ActionResult) -> None:
        if "chain" not in step.show:
            return
        events = self.stage.events(result.start_ns, result.end_ns or None)
        trace = fold(events, backend=getattr(self.stage, "backend", ""))
        self.say(textwrap.indent(narrate(trace, evidence=False), "  "))

    def question(self, step: LessonStep) -> None:
        q = step.question
        assert q is not None
        self.say()
        reply = self.ask(f"? {q.text}\n> ")
        mark = "✓ right" if q.accepts(reply) else f"✗ the answer: {q.answers[0]}"
        self.say(f"  {mark}. {q.explain}")


def describe_finding(f: Finding) -> str:
    if f.what == "evidence":
        proof = _proof(f.event) if f.event is not None else "not observed"
        return f"{'✓' if f.ok else '✗'} {f.text}  →  {proof}"
    if f.what == "output":
        return f"{'✓' if f.ok else '✗'} output contains {f.text!r}"
    if f.ok:
        return f"✓ no {f.text} (none observed)"
    return f"✗ expected no {f.text}, but saw: {_proof(f.event) if f.event else '?'}"


def _proof(ev: Event) -> str:
    """An event as one line, with the process that did it (the point of most lessons)."""
    who = f"{ev.comm or '?'} (pid {ev.pid}): " if ev.pid and ev.source != "proxy" else ""
    return who + describe(ev)


def walk(
    lesson: Lesson, stage: Stage, inp: TextIO, out: TextIO, evidence_wait_s: float = EVIDENCE_WAIT_S
) -> int:
    """Walk the lesson; the stage is always ended (cleaned up), also when the learner quits."""
    try:
        return PlainWalker(lesson, stage, inp, out, evidence_wait_s).walk()
    finally:
        stage.end()


def step_windows(results: Sequence[tuple[int, ActionResult]]) -> list[dict[str, Any]]:
    """What a recording's header keeps of each step: its window, output and status."""
    return [
        {
            "number": n,
            "start_ns": r.start_ns,
            "end_ns": r.end_ns,
            "output": r.output,
            "returncode": r.returncode,
            "unavailable": r.unavailable,
            "skipped": r.skipped,
        }
        for n, r in results
    ]
