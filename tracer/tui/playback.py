"""A pure player over a list of event times: pace, pause, step, jump; time comes from a clock."""

from __future__ import annotations

from collections.abc import Callable, Sequence

SPEEDS: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1.0)
DEFAULT_SPEED = 0.1
# At 0.1× a step stays on screen at least a second: the floor is this many real seconds, scaled.
STEP_FLOOR_S = 0.1
# In paced mode no single wait on screen lasts longer than this (a slow pull would stall a room).
LONGEST_WAIT_S = 3.0


class Player:
    """Where the playhead is in the events and when it moves next.

    Paced mode (the default) stretches the run by 1/speed, keeps each step on screen at least
    STEP_FLOOR_S/speed and shortens waits longer than LONGEST_WAIT_S. Real-time mode waits
    exactly as long as the run did. Nothing here reads a clock but `clock`.
    """

    def __init__(
        self,
        times: Sequence[int],
        steps: Sequence[int | None],
        clock: Callable[[], float],
        *,
        speed: float = DEFAULT_SPEED,
        realtime: bool = False,
        paused: bool = False,
    ) -> None:
        self.times = list(times)
        self._know_steps(steps)
        self.clock = clock
        self.speed = speed
        self.realtime = realtime
        self.paused = paused
        self.position = -1
        self._step_began = clock()
        self._due = clock()

    def _know_steps(self, steps: Sequence[int | None]) -> None:
        # the step shown at each event, the indexes where the shown step changes, and where
        # each step is first shown (for jumps)
        self.steps = list(steps)
        self._starts = [
            i
            for i, s in enumerate(self.steps)
            if s is not None and (i == 0 or self.steps[i - 1] != s)
        ]
        self.step_starts: dict[int, int] = {}
        for i in self._starts:
            self.step_starts.setdefault(self.steps[i], i)  # type: ignore[arg-type]

    # -- what the playhead is on -------------------------------------------------------------
    @property
    def last(self) -> int:
        return len(self.times) - 1

    @property
    def finished(self) -> bool:
        return self.position >= self.last

    @property
    def playing(self) -> bool:
        return not self.paused and not self.finished

    @property
    def pace(self) -> str:
        return "real time" if self.realtime else f"{self.speed:g}×"

    def dwell(self, index: int) -> float:
        """Seconds on screen between event `index` and the next one."""
        if index < 0 or index >= self.last:
            return 0.0
        gap = (self.times[index + 1] - self.times[index]) / 1e9
        if self.realtime:
            return gap
        return min(gap / self.speed, LONGEST_WAIT_S)

    # -- moving by itself --------------------------------------------------------------------
    def tick(self) -> bool:
        """Advance to where the clock says the playhead is; True when it moved."""
        if not self.playing:
            return False
        now = self.clock()
        moved = False
        while not self.finished and now >= self._due:
            nxt = self.position + 1
            changes = self.step_of(nxt) not in (None, self.step_of(self.position))
            if changes and not self.realtime and self.position >= 0:
                floor = self._step_began + STEP_FLOOR_S / self.speed
                if now < floor:
                    self._due = floor
                    break
            self._set(nxt, at=self._due)
            moved = True
        return moved

    def _set(self, position: int, at: float | None = None) -> None:
        position = max(-1, min(position, self.last))
        at = self.clock() if at is None else at
        if (
            position in self._starts
            or position < 0
            or self.step_of(position) != self.step_of(self.position)
        ):
            self._step_began = at
        self.position = position
        self._due = at + self.dwell(position)

    # -- what the user does ------------------------------------------------------------------
    def toggle(self) -> None:
        self.paused = not self.paused
        if not self.paused:
            if self.finished:
                self._set(-1)
            self._due = self.clock()
            self._step_began = self.clock()

    def step_event(self, delta: int) -> None:
        self.paused = True
        self._set(self.position + delta)

    def step_of(self, position: int) -> int | None:
        """The step shown while the playhead is on event `position`."""
        return self.steps[position] if 0 <= position < len(self.steps) else None

    def step_by(self, delta: int) -> None:
        """Move to the start of the next (delta=1) or previous (delta=-1) step."""
        self.paused = True
        if delta > 0:
            later = [i for i in self._starts if i > self.position]
            self._set(later[0] if later else self.last)
        else:
            earlier = [i for i in self._starts if i < self.position]
            # from inside a step, "back" goes to its own start first, like a music player
            self._set(earlier[-1] if earlier else -1)

    def jump_step(self, number: int) -> bool:
        """Put the playhead where step `number` is shown once the steps before it have begun
        (steps overlap: the attach stream of step 7 opens before step 4); False when it has no
        events."""
        shown = [i for i in self._starts if self.steps[i] == number]
        if not shown:
            return False
        before = [i for n, i in self.step_starts.items() if n < number]
        after_all = [i for i in shown if i >= max(before, default=-1)]
        self.paused = True
        self._set((after_all or shown)[0])
        return True

    def restart(self) -> None:
        self.paused = False
        self._set(-1)
        self._due = self.clock()

    def seek(self, position: int) -> None:
        self.paused = True
        self._set(position)

    def follow_end(self) -> None:
        """Stay on the newest event (a live run being recorded), without pausing."""
        self._set(self.last)

    def faster(self) -> None:
        self.realtime = False
        self.speed = next((s for s in SPEEDS if s > self.speed), SPEEDS[-1])

    def slower(self) -> None:
        self.realtime = False
        self.speed = next((s for s in reversed(SPEEDS) if s < self.speed), SPEEDS[0])

    def toggle_realtime(self) -> None:
        self.realtime = not self.realtime
        self._due = self.clock() + self.dwell(self.position)

    def extend(self, times: Sequence[int], steps: Sequence[int | None]) -> None:
        """New events arrived (a live run): keep the playhead, know the new ones."""
        self.times = list(times)
        self._know_steps(steps)
