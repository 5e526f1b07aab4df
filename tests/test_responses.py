"""Error response parsing, on responses from a scripted server on 127.0.0.1."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
import requests
from http_fixtures import Reply, ScriptedServer

from qlik_tutorial.errors import (
    APIRequestError,
    RateLimitedError,
    ResponseFormatError,
    ServerError,
    TokenRequestError,
)
from qlik_tutorial.responses import (
    json_body,
    parse_error_response,
    parse_retry_after,
    raise_for_answer,
)

pytestmark = pytest.mark.timeout(30)

NOW = 1_800_000_000.0
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlc2lnbmF0dXJl"


@pytest.fixture
def fetch(
    scripted_server: Callable[[], ScriptedServer],
) -> Callable[[Reply], requests.Response]:
    """Return a function that fetches a scripted reply over real HTTP."""
    server = scripted_server()

    def get(reply: Reply) -> requests.Response:
        server.queue(reply)
        return requests.get(f"{server.url}/oauth/token", timeout=5)

    return get


def test_parse_qlik_body(fetch: Callable[[Reply], requests.Response]) -> None:
    body = {
        "errors": [
            {
                "code": "OAUTH-14",
                "title": "Invalid client_id",
                "detail": "no client abc",
                "status": "401",
            }
        ],
        "traceId": "7f3a",
    }
    parsed = parse_error_response(fetch(Reply(401, body)))
    assert parsed.code == "OAUTH-14"
    assert parsed.title == "Invalid client_id"
    assert parsed.detail == "no client abc"
    assert parsed.trace_id == "7f3a"
    assert parsed.status == 401


def test_parse_rfc6749_body(fetch: Callable[[Reply], requests.Response]) -> None:
    body = {"error": "invalid_client", "error_description": "Unknown client"}
    parsed = parse_error_response(fetch(Reply(401, body)))
    assert parsed.error == "invalid_client"
    assert parsed.detail == "Unknown client"
    assert parsed.code is None


def test_parse_html_excerpt(fetch: Callable[[Reply], requests.Response]) -> None:
    page = f"<html><body><h1>Bad   Gateway</h1><p>{JWT}</p>{'x' * 500}</body></html>"
    parsed = parse_error_response(fetch(Reply(502, page)))
    assert parsed.excerpt is not None
    assert parsed.excerpt.startswith("Bad Gateway [JWT redacted]")
    assert len(parsed.excerpt) <= 200


def test_parse_other_json(fetch: Callable[[Reply], requests.Response]) -> None:
    parsed = parse_error_response(fetch(Reply(500, {"message": "boom"})))
    assert parsed.excerpt == '{"message": "boom"}'


def test_parse_redacts_detail(fetch: Callable[[Reply], requests.Response]) -> None:
    body = {"errors": [{"code": "X", "title": "Bad", "detail": f"jwt {JWT}"}]}
    parsed = parse_error_response(fetch(Reply(400, body)))
    assert parsed.detail == "jwt [JWT redacted]"


def test_summary_names_everything(
    fetch: Callable[[Reply], requests.Response],
) -> None:
    body = {
        "errors": [{"code": "OAUTH-27", "title": "Invalid audience", "detail": "d"}],
        "traceId": "t-1",
    }
    summary = parse_error_response(fetch(Reply(401, body))).summary()
    assert summary.startswith("HTTP 401 OAUTH-27 from http://127.0.0.1:")
    assert summary.endswith("/oauth/token: Invalid audience. d (traceId t-1)")


def test_retry_after_seconds() -> None:
    assert parse_retry_after("30") == 30


def test_retry_after_http_date() -> None:
    date = format_datetime(datetime.fromtimestamp(NOW + 90, UTC), usegmt=True)
    assert parse_retry_after(date, now=lambda: NOW) == 90


def test_retry_after_past_date() -> None:
    date = format_datetime(datetime.fromtimestamp(NOW - 90, UTC), usegmt=True)
    assert parse_retry_after(date, now=lambda: NOW) == 0


@pytest.mark.parametrize("value", [None, "", "soon", "inf", "nan"])
def test_retry_after_invalid(value: str | None) -> None:
    assert parse_retry_after(value) is None


def test_raise_for_success(fetch: Callable[[Reply], requests.Response]) -> None:
    assert raise_for_answer(fetch(Reply(200, {})), error_class=ServerError) is None


def test_raise_uses_case(fetch: Callable[[Reply], requests.Response]) -> None:
    body = {"error": "unsupported_client_assertion_type"}
    with pytest.raises(TokenRequestError) as caught:
        raise_for_answer(fetch(Reply(400, body)), error_class=TokenRequestError)
    error = caught.value
    assert error.case == "unsupported_assertion_type"
    assert "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" in error.fix


def test_raise_fills_tenant(fetch: Callable[[Reply], requests.Response]) -> None:
    body = {"errors": [{"code": "OAUTH-27", "title": "Invalid audience"}]}
    with pytest.raises(TokenRequestError) as caught:
        raise_for_answer(
            fetch(Reply(401, body)),
            error_class=TokenRequestError,
            tenant="https://acme.eu.qlikcloud.com",
        )
    assert "https://acme.eu.qlikcloud.com/oauth/token" in caught.value.fix


def test_raise_action_in_symptom(
    fetch: Callable[[Reply], requests.Response],
) -> None:
    with pytest.raises(APIRequestError) as caught:
        raise_for_answer(
            fetch(Reply(404, "")), error_class=APIRequestError, action="API call"
        )
    assert caught.value.symptom == "API call failed: API path not found"


def test_raise_429_token_endpoint(
    fetch: Callable[[Reply], requests.Response],
) -> None:
    reply = Reply(429, "", {"Retry-After": "5"})
    with pytest.raises(RateLimitedError) as caught:
        raise_for_answer(fetch(reply), error_class=TokenRequestError)
    assert caught.value.retry_after == 5


def test_raise_429_api_stays_api(
    fetch: Callable[[Reply], requests.Response],
) -> None:
    with pytest.raises(APIRequestError) as caught:
        raise_for_answer(fetch(Reply(429, "")), error_class=APIRequestError)
    assert caught.value.case == "rate_limited"


def test_json_body_parses(fetch: Callable[[Reply], requests.Response]) -> None:
    assert json_body(fetch(Reply(200, {"a": 1})), what="Answer") == {"a": 1}


def test_json_body_rejects_html(fetch: Callable[[Reply], requests.Response]) -> None:
    with pytest.raises(ResponseFormatError) as caught:
        json_body(fetch(Reply(200, f"<p>hi {JWT}</p>")), what="Answer")
    message = str(caught.value)
    assert "Answer is not JSON" in message
    assert "hi [JWT redacted]" in message
    assert JWT not in message


@pytest.fixture
def berlin_time() -> Iterator[None]:
    """Run with the local time zone one hour ahead of UTC in January."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Berlin"
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()


@pytest.mark.parametrize(
    "value", ["Fri Jan 15 08:00:30 2027", "Fri, 15 Jan 2027 08:00:30 -0000"]
)
@pytest.mark.usefixtures("berlin_time")
def test_retry_after_date_without_zone_is_utc(value: str) -> None:
    moment = datetime(2027, 1, 15, 8, 0, 0, tzinfo=UTC).timestamp()
    assert parse_retry_after(value, now=lambda: moment) == 30


def test_parse_deeply_nested_json(fetch: Callable[[Reply], requests.Response]) -> None:
    reply = Reply(500, "[" * 100_000, {"Content-Type": "application/json"})
    parsed = parse_error_response(fetch(reply))
    assert parsed.excerpt is not None
    assert parsed.excerpt.startswith("[[[")


def test_json_body_deeply_nested(fetch: Callable[[Reply], requests.Response]) -> None:
    reply = Reply(200, "[" * 100_000, {"Content-Type": "application/json"})
    with pytest.raises(ResponseFormatError, match="not JSON"):
        json_body(fetch(reply), what="Token response")
