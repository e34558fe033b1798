"""The Host, Origin and Content-Type rules as pure functions (live attacks: test_security.py)."""

from __future__ import annotations

import pytest

from mlxfn.server.cross_site import host_allowed, host_name, is_json, origin_allowed
from mlxfn.server.keys import ServerConfig

PUBLIC = ServerConfig(bound_host="0.0.0.0")


@pytest.mark.parametrize(
    ("host", "name"),
    [
        ("localhost", "localhost"),
        ("localhost:8000", "localhost"),
        ("[::1]:8000", "::1"),
        ("[::1]", "::1"),
        ("127.0.0.1:8000", "127.0.0.1"),
        ("Attacker.Example.:8000", "attacker.example"),
        ("  llm.lan  ", "llm.lan"),
    ],
)
def test_host_name_drops_port_brackets_case_and_the_final_dot(host: str, name: str) -> None:
    assert host_name(host) == name


@pytest.mark.parametrize(
    "host", ["localhost:1", "127.0.0.1", "127.0.0.2:8000", "[::1]:8000", "localhost.:8000"]
)
def test_loopback_names_are_allowed_on_any_port(host: str) -> None:
    assert host_allowed(host, ServerConfig())


@pytest.mark.parametrize(
    "host",
    ["attacker.example", "attacker.example:8000", "localhost.attacker.example", "127.0.0.1.nip.io"],
)
def test_other_names_are_not(host: str) -> None:
    assert not host_allowed(host, ServerConfig())


def test_a_wildcard_bind_allows_itself_and_loopback_but_not_the_machines_addresses() -> None:
    assert host_allowed("0.0.0.0:8000", PUBLIC)
    assert host_allowed("localhost:8000", PUBLIC)
    assert not host_allowed("192.168.1.5:8000", PUBLIC)
    with_lan = ServerConfig(bound_host="0.0.0.0", allowed_hosts=frozenset({"192.168.1.5"}))
    assert host_allowed("192.168.1.5:8000", with_lan)


def test_a_bound_name_or_ipv6_address_is_allowed() -> None:
    assert host_allowed("box.lan:8000", ServerConfig(bound_host="box.lan"))
    assert host_allowed("[fe80::1]:8000", ServerConfig(bound_host="fe80::1"))


def test_allowed_entries_may_carry_a_port_or_brackets() -> None:
    config = ServerConfig(allowed_hosts=frozenset({"llm.lan:8000", "[fd00::5]"}))
    assert host_allowed("llm.lan", config)
    assert host_allowed("[fd00::5]:8000", config)


def test_keys_or_a_star_turn_the_host_check_off() -> None:
    assert host_allowed("attacker.example", ServerConfig(api_keys=frozenset({"sk-1"})))
    assert host_allowed("attacker.example", ServerConfig(allowed_hosts=frozenset({"*"})))


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("http://127.0.0.1:8000", True),
        ("HTTP://127.0.0.1:8000", True),
        ("https://127.0.0.1:8000", False),  # another scheme is another origin
        ("http://127.0.0.1:8001", False),
        ("http://localhost:8000", False),
        ("http://app.example", True),
        ("http://app.example:80", False),  # CORS compares origins exactly
        ("null", False),
        ("", False),
    ],
)
def test_an_origin_must_be_the_servers_own_or_a_cors_one(origin: str, allowed: bool) -> None:
    assert origin_allowed(origin, "http://127.0.0.1:8000", ("http://app.example",)) == allowed


def test_no_host_means_only_cors_origins() -> None:
    assert not origin_allowed("http://127.0.0.1:8000", None, ())
    assert origin_allowed("http://app.example", None, ("http://app.example",))


@pytest.mark.parametrize(
    ("content_type", "json"),
    [
        ("application/json", True),
        ("application/json;charset=utf-8", True),
        (" APPLICATION/JSON ; charset=UTF-8", True),
        ("text/plain", False),
        ("application/x-www-form-urlencoded", False),
        ("multipart/form-data; boundary=x", False),
        ("application/json-patch+json", False),
        ("", False),
    ],
)
def test_only_application_json_is_json(content_type: str, json: bool) -> None:
    assert is_json(content_type) == json
