"""Request bodies: bounded before they are read, JSON only, no key twice, ``details`` bounded."""

from __future__ import annotations

import socket
import time

import orjson
import pytest

from .conftest import API_TOKEN, OPS_TOKEN, check_body

MIB = 1024 * 1024


def _raw(url: str, head: bytes, body: bytes = b"", wait: float = 5.0) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as s:
        s.sendall(head + body)
        s.settimeout(wait)
        out = b""
        while b"\r\n\r\n" not in out:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
        return out


def test_a_4_mib_body_is_refused_before_it_is_sent_whole(shared_live):
    # the headers announce 4 MiB; only 1 KiB follows: the gate answers 413 without waiting for the rest
    head = (f"POST /pretrade/check HTTP/1.1\r\nHost: x\r\nX-API-TOKEN: {API_TOKEN}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {4 * MIB}\r\n\r\n").encode()  # fmt: skip
    t0 = time.monotonic()
    reply = _raw(shared_live.url, head, b"{" + b" " * 1023)
    assert reply.startswith(b"HTTP/1.1 413") and time.monotonic() - t0 < 5.0
    # and a client that does send the whole body gets the same answer and a JSON reason
    r = shared_live.client.post("/pretrade/check", content=b'{"x": "' + b"a" * (4 * MIB) + b'"}',
                                headers={"X-API-TOKEN": API_TOKEN, "content-type": "application/json"})  # fmt: skip
    assert r.status_code == 413 and "api.max_body_bytes" in r.json()["detail"]


def test_a_chunked_body_is_cut_at_the_limit(shared_live):
    def chunks():
        yield b'{"account": {"id": "'
        for _ in range(100):
            yield b"a" * 4096

    r = shared_live.client.post("/posttrade/log", content=chunks(),
                                headers={"X-API-TOKEN": API_TOKEN, "content-type": "application/json"})  # fmt: skip
    assert r.status_code == 413


@pytest.mark.parametrize("path", ["/pretrade/check", "/posttrade/log", "/ops/rotate_token", "/posttrade/balance"])
@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", None, "application/json; charset=latin-1"])
def test_only_json_is_accepted(shared_live, path, ctype):
    headers = {"X-API-TOKEN": API_TOKEN, "X-OPS-TOKEN": OPS_TOKEN}
    if ctype is not None:
        headers["content-type"] = ctype
    r = shared_live.client.post(path, content=orjson.dumps(check_body()), headers=headers)
    assert r.status_code == 415 and "application/json" in r.json()["detail"]


def test_json_with_a_charset_and_vendor_json_types_are_json(shared_live):
    for ctype in ("application/json; charset=utf-8", "application/vnd.aurora+json"):
        r = shared_live.client.post("/pretrade/check", content=orjson.dumps(check_body(cid=f"ct-{ctype[-4:]}")),
                                    headers={"X-API-TOKEN": API_TOKEN, "content-type": ctype})  # fmt: skip
        assert r.status_code == 200, ctype


def test_a_duplicate_key_is_422_naming_it(shared_live):
    raw = orjson.dumps(check_body(cid="dup-1")).replace(b'"qty":1.0', b'"qty":1.0,"qty":100.0')
    assert raw.count(b'"qty"') == 2
    r = shared_live.client.post("/pretrade/check", content=raw,
                                headers={"X-API-TOKEN": API_TOKEN, "content-type": "application/json"})  # fmt: skip
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "qty"
    assert r.json()["detail"][0]["type"] == "duplicate_key"
    # spaced and escaped spellings are found too (the exact path)
    spaced = raw.replace(b'"qty":100.0', b'"qty" :  100.0')
    escaped = raw.replace(b'"qty":100.0', b'"q\\u0074y":100.0')
    for body in (spaced, escaped):
        r = shared_live.client.post("/pretrade/check", content=body,
                                    headers={"X-API-TOKEN": API_TOKEN, "content-type": "application/json"})  # fmt: skip
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "qty", body
    # a duplicate inside posttrade details
    ev = b'{"event_code":"ORDER.ACK","ts_ns":5,"cid":"d","details":{"a":{"b":1,"b":2}}}'
    r = shared_live.client.post("/posttrade/log", content=ev,
                                headers={"X-API-TOKEN": API_TOKEN, "content-type": "application/json"})  # fmt: skip
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "b"


def test_no_duplicate_no_false_alarm(shared_live):
    # keys that look alike, a string value holding '":' and an escaped quote: all fine
    body = check_body(cid='a":b\\"c')
    r = shared_live.post("/pretrade/check", body)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "details, why",
    [
        ({"note": "x" * 1025}, "longer than 1024"),
        ({"k" * 1025: 1}, "key is longer"),
        ({"list": list(range(65))}, "more than 64"),
        ({f"k{i}": i for i in range(65)}, "more than 64"),
        ({"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}, "nested too deeply"),
        ({"fill_qty": {"a": 1}}, "must be a number"),
        ({"n": 1e300}, "within"),
    ],
)
def test_details_are_bounded(shared_live, details, why):
    r = shared_live.post("/posttrade/log", {"event_code": "ORDER.ACK", "ts_ns": 5, "cid": "b", "details": details})
    assert r.status_code == 422 and why in r.json()["error"], r.text


def test_the_limit_is_the_configured_one(gate_factory):
    live = gate_factory({"api": {"max_body_bytes": 2048}})
    body = check_body(cid="big", sprt_samples=[0.5] * 600)  # ~2.6 KB
    assert len(orjson.dumps(body)) > 2048
    assert live.post("/pretrade/check", body).status_code == 413
    assert live.post("/pretrade/check", check_body(cid="small")).status_code == 200
