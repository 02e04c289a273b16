"""Kernel and process probes: bcc eBPF, a tracefs fallback and a psutil view, one interface.

    from tracer.sources.picker import choose_backend, start_best  # the one picker
    source, choices = choose_backend()          # or start_best(sink, seed_pids) with fallback
    source.prepare()                            # optional: bcc compiles in the background
    source.start(sink, seed_pids=[os.getpid()]) # sink(Event) from the poll thread
    ...
    source.close()

What each backend reads (events are not sorted: order by `time_ns`):
- bcc: every field of every kind (paths, argv, clone3 flags, AF_UNIX paths), in-kernel filter.
- tracefs: numbers only for pointer arguments: mount/pivot_root paths, clone3 flags and connect
  addresses are None and listed under `unreadable`; argv is read from /proc after the exec
  (`argv_from`), dockerd's new mounts from its mount table (`new_in_mount_table`); comm is the
  kernel's cached one and may lag runc's renaming of its stages.
- proc: `proc.seen` only (psutil), no kernel events.
"""
