# The relay's duplex loop in C (_duplex.c): its one function, typed for mypy.
def run(
    client_fd: int,
    daemon_fd: int,
    client_tag: int,
    daemon_tag: int,
    conn: int,
    buffer: bytearray,
    held: bytearray,
    held_len: int,
    due: int,
    hold_ns: int,
    hold_bytes: int,
    client_bulk: int,
    daemon_bulk: int,
    /,
) -> tuple[int, int, int, int, int, int, int, int]:
    """(event, side, n, sent, t, err, held_len, due); see _duplex.c."""
