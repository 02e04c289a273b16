"""The player: pace, step floors, pause, step and jump, all on an injected clock."""

from __future__ import annotations

import pytest

from tracer.tui.playback import LONGEST_WAIT_S, SPEEDS, STEP_FLOOR_S, Player

MS = 1_000_000


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def player(times_ms: list[float], starts: dict[int, int], **kw: object) -> tuple[Player, FakeClock]:
    """A player whose step k is shown from event starts[k] until the next step's start."""
    clock = FakeClock()
    steps: list[int | None] = [None] * len(times_ms)
    for number, index in sorted(starts.items(), key=lambda kv: kv[1]):
        steps[index:] = [number] * (len(times_ms) - index)
    return Player([int(t * MS) for t in times_ms], steps, clock, **kw), clock  # type: ignore[arg-type]


def test_plays_the_first_event_at_once_then_stretches_gaps_by_speed() -> None:
    p, clock = player([0, 10, 20], {1: 0}, speed=0.1)
    assert p.tick() and p.position == 0
    clock.now += 0.099  # 10 ms at 0.1x is 100 ms on screen
    assert not p.tick() and p.position == 0
    clock.now += 0.002
    assert p.tick() and p.position == 1


def test_a_new_step_waits_for_the_floor_so_each_step_stays_visible() -> None:
    p, clock = player([0, 1, 2], {1: 0, 2: 2}, speed=0.1)
    p.tick()
    clock.now += 0.05
    p.tick()
    assert p.position == 1
    clock.now += 0.5  # step 1 has been up 0.55 s; the floor at 0.1x is 1 s
    p.tick()
    assert p.position == 1
    clock.now = 1000.0 + STEP_FLOOR_S / 0.1 + 0.001
    p.tick()
    assert p.position == 2 and p.finished and not p.playing


def test_real_time_waits_exactly_as_long_as_the_run_did_and_has_no_floor() -> None:
    p, clock = player([0, 1, 2], {1: 0, 2: 2}, realtime=True)
    p.tick()
    clock.now += 0.0021
    p.tick()
    assert p.position == 2


def test_long_waits_are_shortened_in_paced_mode() -> None:
    p, _ = player([0, 60_000], {1: 0}, speed=0.05)
    assert p.dwell(0) == LONGEST_WAIT_S


def test_pause_stops_the_playhead() -> None:
    p, clock = player([0, 1, 2], {1: 0})
    p.tick()
    p.toggle()
    clock.now += 100
    assert not p.tick() and p.position == 0
    p.toggle()
    clock.now += 100
    p.tick()
    assert p.position == 2


def test_step_by_event_and_by_step_and_jump() -> None:
    p, _ = player([0, 1, 2, 3, 4, 5], {1: 0, 2: 2, 3: 4})
    p.step_event(1)
    assert p.position == 0 and p.paused
    p.step_by(1)
    assert p.position == 2 and p.step_of(2) == 2
    p.step_event(1)
    p.step_by(-1)  # back to the start of its own step first
    assert p.position == 2
    p.step_by(-1)
    assert p.position == 0
    assert p.jump_step(3) and p.position == 4
    assert not p.jump_step(7) and p.position == 4
    p.step_event(10)
    assert p.position == 5
    p.step_event(-10)
    assert p.position == -1


def test_speeds_stay_within_the_range_and_replay_starts_over() -> None:
    p, _ = player([0, 1], {1: 0}, speed=0.1)
    for _ in range(10):
        p.faster()
    assert p.speed == SPEEDS[-1] == 1.0
    for _ in range(10):
        p.slower()
    assert p.speed == SPEEDS[0] == 0.05
    p.toggle_realtime()
    assert p.pace == "real time"
    p.step_event(1)
    p.restart()
    assert p.position == -1 and p.playing


@pytest.mark.parametrize("speed", SPEEDS)
def test_every_step_is_visible_at_least_the_floor(speed: float) -> None:
    times = [0, 0.1, 0.2, 0.3, 5, 5.1, 9]
    p, clock = player(times, {1: 0, 2: 3, 3: 5}, speed=speed)
    shown: dict[int | None, float] = {}
    last = clock.now
    while not p.finished:
        clock.now += 0.01
        before = p.step_of(p.position)
        if p.tick() and p.step_of(p.position) != before:
            shown[before] = clock.now - last
            last = clock.now
    assert all(v >= STEP_FLOOR_S / speed - 0.011 for k, v in shown.items() if k is not None)
