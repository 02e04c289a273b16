"""A lesson's parts (steps, actions, evidence selectors, questions), judged against events."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracer.events import KINDS, Event

LESSONS_DIR = Path(__file__).resolve().parents[2] / "lessons"

TOP_FIELDS = ("kind", "source", "layer", "pid", "tid", "ppid", "comm")
LESSON_FIELDS = ("goal", "duration", "needs", "recording", "env", "cleanup")
STEP_FIELDS: tuple[str, ...] = ("run", "do", "evidence", "absent", "output", "show")
STEP_FIELDS += ("question", "answer", "explain", "optional")
NEEDS = frozenset({"live", "replay"})
SHOWS = frozenset({"chain"})

# App actions a step may name with `do:`; the walker implements each (a test keeps the two equal).
APP_ACTIONS: Mapping[str, str] = {
    "processes": "show dockerd and containerd as processes: pids, start times, command lines, "
    "the sockets they listen on",
    "socket": "show a socket file as `ls -l` does and whether anyone listens on it "
    "(do: socket PATH)",
    "tls-proxy": "start a second proxy on tcp://127.0.0.1:2376 with TLS, using the certificates "
    "in $LESSON_TMP/certs (ca.pem, server-cert.pem, server-key.pem)",
    "stop-dockerd": "stop the real dockerd, show `docker ps` failing, start it again "
    "(only with --stop-daemon; otherwise the step says it was skipped)",
    "containerd-proxy": "start a recording proxy on $LESSON_TMP/containerd.sock in front of "
    "containerd's socket, for `ctr --address`: its gRPC calls are decoded",
}


def detail_keys(kind: str) -> tuple[str, ...]:
    """The detail keys KINDS lists for a kind ("stream (stdin|stdout)" gives "stream")."""
    return tuple(part.split()[0] for part in KINDS[kind].split(", ") if part.strip())


ALL_DETAIL_KEYS = frozenset(k for kind in KINDS for k in detail_keys(kind))


class LessonError(ValueError):
    """One thing wrong in a lesson file, at a line."""

    def __init__(self, path: str | Path, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = str(path)
        self.line = line
        self.message = message


class LessonFileError(ValueError):
    """A lesson file with one or more errors; str() lists them, one `file:line: what` a line."""

    def __init__(self, errors: Sequence[LessonError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = list(errors)


def _glob_regex(pattern: str, star: str = ".*") -> re.Pattern[str]:
    # Only `*` is special: comm names such as runc:[1:CHILD] carry brackets literally.
    return re.compile(star.join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


def _value_matches(pattern: re.Pattern[str], value: Any) -> bool:
    if isinstance(value, list | tuple | set | frozenset):
        return any(_value_matches(pattern, v) for v in value)
    if isinstance(value, bool):
        value = str(value).lower()
    return value is not None and pattern.fullmatch(str(value)) is not None


def _lookup(event: Event, key: str) -> tuple[bool, Any]:
    if key in TOP_FIELDS:
        return True, getattr(event, key)
    head, *rest = key.split(".")
    if head not in event.detail:
        return False, None
    value: Any = event.detail[head]
    for part in rest:
        if not isinstance(value, Mapping):
            return False, None
        if part not in value:  # header names are case-insensitive; so are nested keys here
            part = next((k for k in value if str(k).lower() == part.lower()), part)
            if part not in value:
                return False, None
        value = value[part]
    return True, value


@dataclass(frozen=True)
class Selector:
    """`key: value, key: value`; an event matches when every pair does (see lessons/README.md)."""

    text: str
    line: int
    pairs: tuple[tuple[str, str], ...]

    def matches(self, event: Event) -> bool:
        for key, pattern in self.pairs:
            found, value = _lookup(event, key)
            if not found or not _value_matches(_glob_regex(pattern), value):
                return False
        return True

    def first(self, events: Iterable[Event]) -> Event | None:
        return next((ev for ev in events if self.matches(ev)), None)

    @property
    def kind(self) -> str | None:
        return next((v for k, v in self.pairs if k == "kind"), None)


def parse_selector(text: str) -> tuple[tuple[str, str], ...]:
    """Split `key: value, key: "value, with comma"` into pairs; raises ValueError saying why."""
    pairs: list[tuple[str, str]] = []
    rest = text.strip()
    while rest:
        key, colon, after = rest.partition(":")
        key = key.strip()
        if not colon or not re.fullmatch(r"[A-Za-z_][\w.-]*", key):
            raise ValueError(f"expected 'key: value' at {rest[:30]!r}")
        after = after.lstrip()
        if after.startswith('"'):
            end = after.find('"', 1)
            if end < 0:
                raise ValueError(f"the quote after '{key}:' is never closed")
            value, rest = after[1:end], after[end + 1 :].lstrip()
            if rest and not rest.startswith(","):
                raise ValueError(f"expected ',' after the quoted value of '{key}'")
            rest = rest[1:].lstrip()
        else:
            value, _, rest = after.partition(",")
            value, rest = value.strip(), rest.lstrip()
        if not value:
            raise ValueError(f"'{key}:' has no value")
        pairs.append((key, value))
    if not pairs:
        raise ValueError("empty selector")
    return tuple(pairs)


@dataclass(frozen=True)
class Action:
    """What the learner does: a shell script (`run`) or an app action (`do`)."""

    kind: str  # "run" | "do"
    text: str
    line: int

    @property
    def name(self) -> str:
        return self.text.split()[0] if self.kind == "do" else "run"

    @property
    def args(self) -> list[str]:
        return self.text.split()[1:] if self.kind == "do" else []


@dataclass(frozen=True)
class OutputCheck:
    """Text the action's output must contain (`*` matches anything within a line)."""

    text: str
    line: int

    def found_in(self, output: str) -> bool:
        return _glob_regex(self.text, star="[^\n]*").search(output) is not None


@dataclass(frozen=True)
class Question:
    text: str
    answers: tuple[str, ...]
    explain: str
    line: int

    def accepts(self, reply: str) -> bool:
        said = _normal(reply)
        return any(said == _normal(a) for a in self.answers)


def _normal(text: str) -> str:
    return " ".join(text.strip().strip("`'\".").lower().split())


@dataclass(frozen=True)
class LessonStep:
    number: int
    title: str
    line: int
    narration: str
    action: Action | None = None
    evidence: tuple[Selector, ...] = ()
    absent: tuple[Selector, ...] = ()
    output: tuple[OutputCheck, ...] = ()
    show: tuple[str, ...] = ()
    question: Question | None = None
    optional: str = ""


@dataclass(frozen=True)
class Lesson:
    path: Path
    number: int
    title: str
    goal: str
    duration_min: int
    needs: frozenset[str]
    intro: str = ""
    recording: str = ""  # relative to the lesson file
    env: tuple[tuple[str, str], ...] = ()
    cleanup: tuple[str, ...] = ()
    steps: tuple[LessonStep, ...] = field(default=())

    @property
    def label(self) -> str:
        """`Lesson 3`, or just `Lesson` for a file not named NN-name.md."""
        return f"Lesson {self.number}" if self.number else "Lesson"

    @property
    def recording_path(self) -> Path | None:
        return (self.path.parent / self.recording).resolve() if self.recording else None


def check_selector(text: str, *, need_kind: bool) -> tuple[tuple[tuple[str, str], ...], str]:
    """Parse a selector and check its keys against the event vocabulary; ("", message) if bad."""
    try:
        pairs = parse_selector(text)
    except ValueError as e:
        return (), str(e)
    keys = [k for k, _ in pairs]
    kinds = [v for k, v in pairs if k == "kind"]
    if need_kind and not kinds:
        return (), "evidence needs a 'kind:' (e.g. 'kind: http.request, path: */version')"
    for kind in kinds:
        if "*" not in kind and kind not in KINDS:
            close = difflib.get_close_matches(kind, list(KINDS), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            return (), f"unknown event kind '{kind}'{hint}"
    allowed = set(TOP_FIELDS)
    exact = [k for k in kinds if "*" not in k]
    for kind in exact:
        allowed |= set(detail_keys(kind))
    if not exact:
        allowed |= ALL_DETAIL_KEYS
    for key in keys:
        if key.split(".")[0] not in allowed:
            where = f"{exact[0]} events" if exact else "any event"
            fields = ", ".join(detail_keys(exact[0])) if exact else ", ".join(TOP_FIELDS)
            return (), f"'{key}' is not a field of {where} (they have: {fields})"
    return pairs, ""


@dataclass(frozen=True)
class Finding:
    """One check of a step against what was observed: which line, whether it holds, the proof."""

    what: str  # "evidence" | "absent" | "output"
    text: str
    line: int
    ok: bool
    event: Event | None = None  # the matching event (evidence) or the offending one (absent)


def judge(step: LessonStep, events: Sequence[Event], output: str, ended: bool) -> list[Finding]:
    """Each evidence, absent and output line of a step against the events and output so far.
    `absent` can only hold once the action has ended (ended=True); before that it is pending."""
    found: list[Finding] = []
    for sel in step.evidence:
        ev = sel.first(events)
        found.append(Finding("evidence", sel.text, sel.line, ev is not None, ev))
    for check in step.output:
        found.append(Finding("output", check.text, check.line, check.found_in(output)))
    for sel in step.absent:
        ev = sel.first(events)
        found.append(Finding("absent", sel.text, sel.line, ended and ev is None, ev))
    return found


def complete(findings: Sequence[Finding]) -> bool:
    return all(f.ok for f in findings)
