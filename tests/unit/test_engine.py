"""tracer.sources.engine names each layer's binary, version and package, and which layers the
chain has not been checked against; the machine is a dict of command outputs here."""

from __future__ import annotations

from tracer.cli.doctor import render
from tracer.sources import engine
from tracer.sources.doctor import Report, check_engine

DOCKER_CE = {
    ("/usr/bin/dockerd", "--version"): "Docker version 28.1.1, build 01f442b\n",
    ("/usr/bin/docker", "--version"): "Docker version 28.1.1, build 4eba377\n",
    ("/usr/bin/containerd", "--version"): "containerd containerd.io v1.7.27 05044ec0a9a7\n",
    ("/usr/bin/containerd-shim-runc-v2", "-v"): "containerd-shim-runc-v2:\n  Version:  v1.7.27\n",
    ("/usr/local/sbin/runc", "--version"): "runc version 1.2.5\ncommit: v1.2.5-0-g59923ef\n",
    ("dpkg-query", "-S", "/usr/bin/dockerd"): "docker-ce: /usr/bin/dockerd\n",
    ("dpkg-query", "-S", "/usr/bin/docker"): "docker-ce-cli: /usr/bin/docker\n",
    ("dpkg-query", "-S", "/usr/bin/containerd"): "containerd.io: /usr/bin/containerd\n",
    ("dpkg-query", "-S", "/usr/bin/containerd-shim-runc-v2"): "containerd.io: /usr/bin/c…\n",
    ("dpkg-query", "-W", "-f", "${Maintainer}", "docker-ce"): "Docker <support@docker.com>",
    ("dpkg-query", "-W", "-f", "${Maintainer}", "docker-ce-cli"): "Docker <support@docker.com>",
    (
        "dpkg-query",
        "-W",
        "-f",
        "${Maintainer}",
        "containerd.io",
    ): "Containerd team <help@containerd.io>",
}
PATHS = {
    "docker": "/usr/bin/docker",
    "dockerd": "/usr/bin/dockerd",
    "containerd": "/usr/bin/containerd",
    "containerd-shim-runc-v2": "/usr/bin/containerd-shim-runc-v2",
    "runc": "/usr/local/sbin/runc",
}


def machine(outputs: dict[tuple[str, ...], str]) -> engine.Runner:
    return lambda argv: outputs.get(tuple(argv))


def docker_ce_layers() -> list[engine.Layer]:
    return engine.find_layers(
        machine(DOCKER_CE), PATHS.get, running={"dockerd": (41, "/usr/bin/dockerd")}
    )


def test_each_layer_says_its_package_or_its_path() -> None:
    layers = {layer.name: layer for layer in docker_ce_layers()}
    assert layers["containerd"].describe() == (
        "containerd 1.7.27 from containerd.io (Docker) at /usr/bin/containerd"
    )
    assert layers["runc"].describe() == "runc 1.2.5 at /usr/local/sbin/runc"
    assert layers["dockerd"].describe().endswith("running (pid 41)")
    assert engine.engine_name(list(layers.values())) == "Docker's engine (docker-ce)"


def test_versions_from_each_engines_own_words() -> None:
    assert engine.parse_version("Docker version 20.10.24+dfsg1, build 5d6db84") == "20.10.24"
    debian = "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3"
    assert engine.parse_version(debian) == "1.6.20"
    assert engine.parse_version("containerd containerd.io v2.0.4 1a43cb6a1035") == "2.0.4"
    assert engine.parse_version("no version here") is None


def test_an_engine_other_than_debians_is_named_as_unchecked() -> None:
    odd = engine.unchecked(docker_ce_layers())
    assert odd == [
        "dockerd 28.1.1 (checked: 20.10)",
        "containerd 1.7.27 (checked: 1.6)",
        "containerd-shim-runc-v2 1.7.27 (checked: 1.6)",
        "runc 1.2.5 (checked: 1.1)",
    ]
    check = check_engine(docker_ce_layers())
    text = render(Report([check]))
    assert "warning: the chain has not been checked against dockerd 28.1.1" in text
    assert "runc 1.2.5 at /usr/local/sbin/runc" in text


def test_debians_engine_is_the_checked_one() -> None:
    outputs = {
        ("/usr/sbin/dockerd", "--version"): "Docker version 20.10.24+dfsg1, build 5d6db84",
        (
            "/usr/bin/containerd",
            "--version",
        ): "containerd github.com/containerd/containerd 1.6.20~ds1",
        ("/usr/sbin/runc", "--version"): "runc version 1.1.5+ds1",
        ("dpkg-query", "-S", "/usr/sbin/dockerd"): "docker.io: /usr/sbin/dockerd",
        ("dpkg-query", "-W", "-f", "${Maintainer}", "docker.io"): "Debian Go Packaging Team "
        "<team+pkg-go@tracker.debian.org>",
    }
    paths = {
        "dockerd": "/usr/sbin/dockerd",
        "containerd": "/usr/bin/containerd",
        "runc": "/usr/sbin/runc",
    }
    layers = engine.find_layers(machine(outputs), paths.get, running={})
    assert engine.unchecked(layers) == []
    assert engine.engine_name(layers) == "Debian's engine (docker.io)"
    assert check_engine(layers).warning == ""


def test_no_engine_says_how_to_get_one() -> None:
    layers = engine.find_layers(machine({}), lambda name: None, running={})
    check = check_engine(layers)
    assert not check.ok
    assert "none here" in check.found
    assert "setup.sh env" in check.fix
