"""The app's share: the classroom page for the session the app drives, served from a thread."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from tracer.events import Event

if TYPE_CHECKING:
    from tracer.tui.source import Loaded


class Room(Protocol):
    """What the app hands its session to (tracer.web.share.Share: the app does not import the
    page; the command line, above both, gives the app a way to open one). Each call returns
    at once: the app never waits for the room."""

    @property
    def url(self) -> str: ...
    @property
    def who(self) -> str: ...

    def recording(self, name: str, header: dict[str, Any], events: Sequence[Event]) -> None: ...
    def started(self, argv: Sequence[str]) -> None: ...
    def live(self, header: dict[str, Any], notice: str) -> None: ...
    def events(self, events: Sequence[Event]) -> None: ...
    def finished(self, returncode: int, stdout: str, stderr: str) -> None: ...
    def failed(self, why: str) -> None: ...
    def stop(self) -> None: ...


class Sharing:
    """Key s and `tui --share`: the room's browsers follow what this app shows (its replays
    and its live runs, each viewer with a playhead of their own)."""

    share: Room | None = None
    share_at: str | None = None  # `tui --share [HOST:PORT]`: share from the start ("": default)
    share_open: Callable[[str], Room] | None = None  # HOST:PORT ("": default) -> a started room
    loaded: Loaded
    mode: str

    def start_share(self, listen: str = "") -> None:
        app: Any = self
        if self.share_open is None:
            app.notify("This app was started without the classroom page.", severity="error")
            return
        try:
            self.share = self.share_open(listen)
        except (OSError, ValueError) as e:
            app.notify(f"Cannot share the page: {e}", severity="error", timeout=10)
            return
        if self.mode == "replay":
            self.shared_loaded(self.loaded, self.mode)
        message = f"The room's page: {self.share.url}\nWho can open it: {self.share.who}"
        app.notify(message, title="Sharing", timeout=15)

    def action_share(self) -> None:
        if self.share is None:
            self.start_share(self.share_at or "")
        else:
            app: Any = self
            app.notify(f"The room's page: {self.share.url}", title="Sharing")

    def shared_loaded(self, loaded: Loaded, mode: str) -> None:
        """A recording on screen is the room's too (live runs are handed over as they go)."""
        if self.share is not None and mode == "replay":
            self.share.recording(loaded.name or "recording", loaded.header, loaded.events)

    def stop_share(self) -> None:
        share, self.share = self.share, None
        if share is not None:
            share.stop()
