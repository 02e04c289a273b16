"""The bundled run's process tree: runc's stages as siblings, the container adopted by the shim."""

from __future__ import annotations

from pathlib import Path

from tracer.chain.process_tree import process_tree
from tracer.pictures.tree import tree_lines
from tracer.record.format import read_recording

ASSETS = Path(__file__).resolve().parents[2] / "assets"


def tree_of_bundled():  # type: ignore[no-untyped-def]
    return process_tree(read_recording(ASSETS / "run-echo-hi.jsonl").events)


def by_name(tree, name: str):  # type: ignore[no-untyped-def]
    return next(p for p in tree.procs.values() if name in p.names)


def test_runc_stages_are_siblings_through_clone_parent() -> None:
    tree = tree_of_bundled()
    parent = by_name(tree, "runc:[0:PARENT]")
    child = by_name(tree, "runc:[1:CHILD]")
    init = by_name(tree, "runc:[2:INIT]")
    create = tree.procs[parent.parent]
    assert create.name == "runc" and create.layer == "runc"
    assert child.parent == init.parent == create.pid  # not the stage that cloned them
    assert child.via == init.via == "clone(CLONE_PARENT)"
    assert {parent.pid, child.pid} <= {c.pid for c in tree.children(create.pid)}
    assert parent.exit_code == child.exit_code == 0
    assert parent.lifetime_ns is not None and parent.lifetime_ns > 0


def test_the_container_is_pid_1_and_is_handed_to_the_shim() -> None:
    tree = tree_of_bundled()
    echo = by_name(tree, "echo")
    assert echo.names == ["runc:[1:CHILD]", "runc:[2:INIT]", "echo"]
    assert echo.ns_pid == 1 and echo.ns_pid_how == "first after CLONE_NEWPID"
    assert echo.exit_code == 0 and echo.end_ns is not None
    create = tree.procs[echo.parent]
    assert create.end_ns is not None and create.end_ns < echo.end_ns  # runc exited first
    shim = tree.procs[echo.reaper]
    assert shim.layer == "shim" and shim.name == "containerd-shim"
    assert echo in tree.children(shim.pid) and echo not in tree.children(create.pid)
    # the shim itself outlived the shim that started it: adopted by init
    assert shim.reaper == 1 and shim in tree.roots


def test_daemons_are_roots_with_their_children() -> None:
    tree = tree_of_bundled()
    names = [r.name for r in tree.roots]
    assert {"dockerd", "containerd", "containerd-shim"} <= set(names)
    containerd = by_name(tree, "containerd")
    assert any(c.layer == "shim" for c in tree.children(containerd.pid))


def test_the_tree_as_text_draws_branches_and_says_who_adopted_whom() -> None:
    lines = tree_lines(tree_of_bundled())
    echo = next(line for line in lines if "echo" in line and "runc:[2:INIT]" in line)
    assert echo.lstrip("│ ").startswith("└── ") or echo.lstrip("│ ").startswith("├── ")
    assert "pid 1 in its namespace" in echo and "re-parented to containerd-shim" in echo
    assert "exit 0" in echo and "lived " in echo
    assert any("exec runc create" in line for line in lines)
