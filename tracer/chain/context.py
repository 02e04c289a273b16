"""One run's events sorted into what the seven steps and the reality checks read (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from tracer.chain.runs import (
    RUNC_HELPERS,
    Run,
    command_exec,
    endpoint_of,
    is_kernel,
    is_ns_flags,
    is_runc,
    is_thread,
    of_kind,
    output_frames,
)
from tracer.events import Event


@dataclass
class RunContext:
    """A run and the selections of its events that more than one step (or a check) needs,
    each computed once, on first use."""

    run: Run

    @property
    def api(self) -> list[Event]:
        return self.run.api

    @property
    def kernel(self) -> list[Event]:
        return self.run.kernel

    @cached_property
    def requests(self) -> list[Event]:
        return of_kind(self.api, "http.request")

    @cached_property
    def responses(self) -> list[Event]:
        return of_kind(self.api, "http.response")

    @cached_property
    def create_request(self) -> Event | None:
        return next((e for e in self.requests if endpoint_of(e) == "/containers/create"), None)

    @cached_property
    def create_responses(self) -> list[Event]:
        return [e for e in self.responses if endpoint_of(e) == "/containers/create"]

    @cached_property
    def have_kernel(self) -> bool:
        return any(is_kernel(e) for e in self.kernel)

    @property
    def made_container(self) -> bool:
        """The run asked for a container, or one is known by its id."""
        return self.create_request is not None or bool(self.run.container_id)

    @cached_property
    def failure(self) -> Event | None:
        """The daemon's last word when the run failed: an error inside a stream, else the last
        HTTP error; None when the container was created."""
        created = any(e.detail.get("status") == 201 for e in self.create_responses)
        if created:
            return None
        errors = of_kind(self.api, "stream.error")
        bad = [e for e in self.responses if int(e.detail.get("status", 0)) >= 400]
        last = errors or bad
        return last[-1] if last else None

    @property
    def never(self) -> bool:
        """The run stopped at dockerd's error: the later steps never happened."""
        return self.failure is not None and not self.run.container_id

    @cached_property
    def overlay_mounts(self) -> list[Event]:
        return [e for e in of_kind(self.kernel, "sys.mount") if e.detail.get("fstype") == "overlay"]

    @cached_property
    def runc_creates(self) -> list[Event]:
        return [
            e
            for e in of_kind(self.kernel, "proc.exec")
            if is_runc(e) and "create" in [str(a) for a in e.detail.get("argv") or []]
        ]

    @cached_property
    def unshares(self) -> list[Event]:
        return [e for e in of_kind(self.kernel, "sys.unshare") if is_ns_flags(e)]

    @cached_property
    def clones(self) -> list[Event]:
        """runc's clones (its stages and its re-exec), not its threads."""
        return [
            e
            for e in of_kind(self.kernel, "sys.clone", "sys.clone3")
            if (e.layer == "runc" or e.comm in RUNC_HELPERS) and not is_thread(e)
        ]

    @cached_property
    def command(self) -> Event | None:
        """The exec of the container's command."""
        # (the client's own exec is never it: ctr runs `ctr run`, in the run's lineage)
        return command_exec([e for e in self.kernel if e.pid != self.run.client_pid])

    @cached_property
    def frames(self) -> list[Event]:
        return output_frames(self.api)

    @cached_property
    def ns_pid(self) -> tuple[int | None, Event | None]:
        """The command's pid inside its namespace, and the event that tells it: NSpid read from
        /proc, else derived (the first process cloned after the CLONE_NEWPID unshare is pid 1)."""
        cmd = self.command
        if cmd is None:
            return None, None
        seen = next(
            (
                e
                for e in self.kernel
                if e.kind == "proc.seen" and e.pid == cmd.pid and e.detail.get("nspid")
            ),
            None,
        )
        if seen is not None:
            return int(seen.detail["nspid"][-1]), seen
        newpid = next(
            (u for u in self.unshares if "CLONE_NEWPID" in u.detail.get("flag_names", [])), None
        )
        if newpid is None:
            return None, None
        first = next(
            (c for c in self.clones if c.pid == newpid.pid and c.time_ns > newpid.time_ns), None
        )
        if first is not None and first.detail.get("ret") == cmd.pid:
            return 1, newpid
        return None, None
