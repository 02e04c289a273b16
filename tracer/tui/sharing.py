"""The app's share: the classroom page for the session the app drives, served from a thread."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracer.tui.source import Loaded
    from tracer.web.share import Share


class Sharing:
    """Key s and `tui --share`: the room's browsers follow what this app shows (its replays
    and its live runs; each viewer with a playhead of their own). The app hands over what
    happens and never waits for the room: the server has its own thread and loop."""

    share: Share | None = None
    share_at: str | None = None  # `tui --share [HOST:PORT]`: share from the start ("": default)
    loaded: Loaded
    mode: str

    def start_share(self, listen: str = "") -> None:
        # tracer.web (Starlette, uvicorn) is imported only when sharing: not at every start
        from tracer.web.share import DEFAULT_LISTEN, Share, parse_listen, who_can_reach

        app: Any = self
        try:
            host, port = parse_listen(listen or DEFAULT_LISTEN)
            self.share = Share(host, port).start()
        except (OSError, ValueError) as e:
            app.notify(f"Cannot share the page: {e}", severity="error", timeout=10)
            return
        if self.mode == "replay":
            self.shared_loaded(self.loaded, self.mode)
        app.notify(
            f"The room's page: {self.share.url}\nWho can open it: {who_can_reach(host, port)}",
            title="Sharing",
            timeout=15,
        )

    def action_share(self) -> None:
        app: Any = self
        if self.share is None:
            self.start_share(self.share_at or "")
        else:
            app.notify(f"The room's page: {self.share.url}", title="Sharing")

    def shared_loaded(self, loaded: Loaded, mode: str) -> None:
        """A recording on screen is the room's too (live runs are handed over as they go)."""
        if self.share is not None and mode == "replay":
            self.share.recording(loaded.name or "recording", loaded.header, loaded.events)

    def stop_share(self) -> None:
        share, self.share = self.share, None
        if share is not None:
            share.stop()
