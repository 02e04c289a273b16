"""A lesson in the app: narration beside the chain; a step completes when its evidence is seen."""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer, Header, Input, Markdown, Static

from tracer.events import Event
from tracer.lessons.model import Finding, Lesson, LessonStep, complete
from tracer.lessons.walk import (
    EVIDENCE_WAIT_S,
    ActionResult,
    Stage,
    await_evidence,
    describe_finding,
)
from tracer.text.story import fold
from tracer.tui.scene import scene_at
from tracer.tui.widgets.chain_view import ChainView


class LessonApp(App[int]):
    """One lesson, step by step. Returns 0 when every required step was proved, 1 otherwise."""

    TITLE = "dockertrace lesson"
    CSS = """
    #narration { width: 1fr; padding: 0 1; }
    #side { width: 1fr; padding: 0 1; }
    #findings, #output, #verdict, #question { margin: 1 0 0 0; }
    #output { color: $text-muted; }
    #answer { display: none; }
    #answer.asking { display: block; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "run", "Run (again)"),
        Binding("n", "next", "Next step"),
        Binding("s", "skip", "Skip"),
        Binding("q", "quit_lesson", "Quit"),
    ]

    def __init__(self, lesson: Lesson, stage: Stage, evidence_wait_s: float = EVIDENCE_WAIT_S):
        super().__init__()
        self.lesson, self.stage, self.wait_s = lesson, stage, evidence_wait_s
        self.index = 0
        self.state = "ready"  # ready | running | asking | done
        self.proved: list[int] = []
        self.left: list[int] = []

    @property
    def step(self) -> LessonStep:
        return self.lesson.steps[self.index]

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            with VerticalScroll(id="narration"):
                yield Markdown(id="text")
                yield Static(id="output")
                yield Static(id="findings")
            with Vertical(id="side"):
                yield ChainView()
                yield Static(id="question")
                yield Input(placeholder="your answer, then Enter", id="answer")
                yield Static(id="verdict")
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"{self.lesson.label}: {self.lesson.title}"
        self.sub_title = self.stage.banner().splitlines()[0]
        self.show_step()

    def show_step(self) -> None:
        step = self.step
        parts = [f"## Step {step.number}/{len(self.lesson.steps)}: {step.title}", step.narration]
        if step.action is not None:
            code = (
                step.action.text if step.action.kind == "run" else f"dockertrace {step.action.text}"
            )
            verb = "show the recording" if self.stage.mode == "replay" else "run it"
            parts += [f"```sh\n{code}\n```", f"*Press r to {verb}.*"]
        self.query_one("#text", Markdown).update("\n\n".join(parts))
        for name in ("#output", "#findings", "#question", "#verdict"):
            self.query_one(name, Static).update("")
        self.query_one(ChainView).scene = None
        self.state = "ready"
        if step.action is None:
            self.proved.append(step.number)
            self.after_evidence()

    def action_run(self) -> None:
        step = self.step
        if self.state in ("asking", "done") and step.number in self.left:  # not proved: again
            self.left.remove(step.number)
            self.query_one("#answer", Input).remove_class("asking")
            self.state = "ready"
        if self.state == "ready" and step.action is not None:
            self.state = "running"
            self.query_one("#findings", Static).update("running…")
            self.act(self.step)

    @work(thread=True, exclusive=True)
    def act(self, step: LessonStep) -> None:
        """The action blocks (a shell command, a proxy start): it runs off the event loop."""
        result = self.stage.act(step)
        self.call_from_thread(self.show_output, result)
        findings = await_evidence(
            self.stage,
            step,
            result,
            self.wait_s,
            seen=lambda found, events: self.call_from_thread(self.show_findings, found, events),
        )
        self.call_from_thread(self.judged, step, result, findings)

    def show_output(self, result: ActionResult) -> None:
        lines = result.output.rstrip("\n").splitlines()[-20:]
        if result.returncode not in (None, 0):
            lines.append(f"(exit status {result.returncode})")
        self.query_one("#output", Static).update("\n".join(lines))

    def show_findings(self, findings: list[Finding], events: list[Event]) -> None:
        self.query_one("#findings", Static).update("\n".join(map(describe_finding, findings)))
        trace = fold(events, backend=getattr(self.stage, "backend", ""))
        if trace.events:
            self.query_one(ChainView).scene = scene_at(trace, len(trace.events) - 1)

    def judged(self, step: LessonStep, result: ActionResult, findings: list[Finding]) -> None:
        findings_view = self.query_one("#findings", Static)
        if result.skipped or result.unavailable:
            why = result.skipped or f"this step cannot run here: {result.unavailable}"
            findings_view.update(why)
        proved = bool(findings) and complete(findings)
        if proved:
            self.proved.append(step.number)
            self.notify("Proved by what the machine showed")
        elif not step.optional:
            self.left.append(step.number)
        self.after_evidence()

    def after_evidence(self) -> None:
        q = self.step.question
        if q is None:
            self.state = "done"
            return
        self.state = "asking"
        self.query_one("#question", Static).update(f"? {q.text}")
        answer = self.query_one("#answer", Input)
        answer.add_class("asking")
        answer.value = ""
        answer.focus()

    @on(Input.Submitted, "#answer")
    def answered(self, message: Input.Submitted) -> None:
        q = self.step.question
        if q is None or self.state != "asking":
            return
        mark = "✓ right" if q.accepts(message.value) else f"✗ the answer: {q.answers[0]}"
        self.query_one("#verdict", Static).update(f"{mark}. {q.explain}")
        message.input.remove_class("asking")
        self.state = "done"
        self.set_focus(None)

    def action_skip(self) -> None:
        if self.state in ("ready", "asking"):
            if self.state == "ready" and not self.step.optional:
                self.left.append(self.step.number)
            self.query_one("#answer", Input).remove_class("asking")
            self.state = "done"
            self.action_next()

    def action_next(self) -> None:
        if self.state != "done":
            self.notify("First run the action (r) and answer the question, or skip (s).")
            return
        if self.index + 1 < len(self.lesson.steps):
            self.index += 1
            self.show_step()
            return
        self.exit(0 if not self.left else 1)

    def action_quit_lesson(self) -> None:
        self.exit(130)

    async def action_quit(self) -> None:  # ctrl+q, the command palette: stopped, not done
        self.exit(130)
