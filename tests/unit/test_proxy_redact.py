"""Secrets never reach an event: headers, Env values, auth bodies, build args, raw excerpts."""

from __future__ import annotations

from tracer import redact
from tracer.proxy.exchange import Body, split_target


def test_credential_headers_are_redacted_and_others_kept() -> None:
    out = redact.headers(
        [
            (b"X-Registry-Auth", b"eyJ1c2VyIjoieCJ9"),
            (b"Authorization", b"Bearer t"),
            (b"Content-Type", b"application/json"),
        ]
    )
    assert out == {
        "X-Registry-Auth": "<redacted>",
        "Authorization": "<redacted>",
        "Content-Type": "application/json",
    }


def test_env_entries_with_secret_names_lose_their_values() -> None:
    body = {
        "Image": "x",
        "Env": [
            "DB_PASSWORD=p",
            "GITHUB_TOKEN=t",
            "AWS_SECRET_ACCESS_KEY=k",
            "API_KEY=a",
            "HOME=/r",
        ],
        "HostConfig": {"Binds": ["/a:/b"]},
    }
    assert redact.json_value(body)["Env"] == [
        "DB_PASSWORD=<redacted>",
        "GITHUB_TOKEN=<redacted>",
        "AWS_SECRET_ACCESS_KEY=<redacted>",
        "API_KEY=<redacted>",
        "HOME=/r",
    ]


def test_auth_bodies_and_build_args() -> None:
    auth = {"username": "me", "password": "pw", "serveraddress": "r", "identitytoken": "i"}
    assert redact.json_value(auth) == {
        "username": "me",
        "password": "<redacted>",
        "serveraddress": "r",
        "identitytoken": "<redacted>",
    }
    _, _, _, query = split_target('/v1.41/build?buildargs={"NPM_TOKEN":"x","V":"1"}&t=a')
    assert query["buildargs"] == '{"NPM_TOKEN":"<redacted>","V":"1"}'


def test_a_body_too_large_to_parse_is_redacted_as_text() -> None:
    env = ",".join(f'"VAR{i}=v"' for i in range(8000))
    raw = ('{"Env":["MY_SECRET=s3cr3t",' + env + '],"password":"pw"}').encode()
    body = Body()
    body.add(raw)
    described = body.describe("application/json")
    assert described["body_json"] is None and described["body_size"] == len(raw)
    assert "s3cr3t" not in described["body_excerpt"]
    assert '"MY_SECRET=<redacted>"' in described["body_excerpt"]


def test_a_secret_cut_off_at_the_end_of_an_excerpt_is_still_hidden() -> None:
    assert redact.text('{"Env":["A=1","DB_PASSWORD=hunt') == '{"Env":["A=1","DB_PASSWORD=<redacted>'
    assert redact.text('{"password":"hun') == '{"password":"<redacted>'
    assert redact.text('{"password":"x","b":"c"}') == '{"password":"<redacted>","b":"c"}'
