"""The lesson in the app (Pilot): a replayed lesson completes step by step, answers in the app."""

from __future__ import annotations

from textual.widgets import Input, Static

from tracer.lessons.files import load_all
from tracer.lessons.model import Lesson
from tracer.lessons.walk import ReplayStage
from tracer.tui.lesson_app import LessonApp
from tracer.tui.widgets.chain_view import ChainView


def lesson(number: int) -> Lesson:
    return next(x for x in load_all() if x.number == number)


def replay_app(number: int) -> LessonApp:
    chosen = lesson(number)
    assert chosen.recording_path is not None
    return LessonApp(chosen, ReplayStage(chosen, str(chosen.recording_path)))


def text(app: LessonApp, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


async def test_replayed_lesson_completes_in_the_app() -> None:
    app = replay_app(3)
    async with app.run_test(size=(120, 40)) as pilot:
        for step in app.lesson.steps:
            assert app.step is step
            await pilot.press("n")  # refused: the evidence has not been seen yet
            assert app.step is step
            await pilot.press("r")
            await app.workers.wait_for_complete()
            await pilot.pause()
            findings = text(app, "#findings")
            for sel in step.evidence:
                assert f"✓ {sel.text}" in findings
            assert app.query_one(ChainView).scene is not None  # the chain beside the narration
            if step.question is not None:
                assert app.query_one("#answer", Input).has_focus
                await pilot.press(*step.question.answers[0], "enter")
                assert text(app, "#verdict").startswith("✓ right.")
            await pilot.press("n")
    assert app.return_value == 0
    assert app.proved == [s.number for s in app.lesson.steps]


async def test_a_wrong_answer_is_corrected_and_quitting_returns_130() -> None:
    app = replay_app(1)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("x", "enter")
        q = app.lesson.steps[0].question
        assert q is not None
        assert text(app, "#verdict").startswith(f"✗ the answer: {q.answers[0]}.")
        await pilot.press("q")
    assert app.return_value == 130


async def test_ctrl_q_is_a_quit_too() -> None:
    app = replay_app(1)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+q")
    assert app.return_value == 130


async def test_skipping_a_step_leaves_it_unproved() -> None:
    app = replay_app(1)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")
        assert app.index == 1 and app.left == [1]
        await pilot.press("q")
    assert app.return_value == 130
