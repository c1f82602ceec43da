"""POST /api/v1/projects/{project}/items: the import's validation, all or nothing, the
status codes a client relies on, and Idempotency-Key; GET .../items/{id}: the item's
state from queued to signed off."""

from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlmodel import Session, select

from storage.models import ApiIdempotency, Event, Item
from tests.api.conftest import PROJECT, item
from tests.factories import apply, database_state, kind_config, press, wait_for

ITEMS = f"/projects/{PROJECT}/items"


def stored(world) -> dict:
    """Every table's rows but the tokens' (whose `last_used_at` a request may write)."""
    state = database_state(world.sandbox.ctx.engine)
    state.pop("api_token")
    return state


def stored_items(world) -> list[Item]:
    with Session(world.sandbox.ctx.engine) as session:
        return list(session.exec(select(Item).order_by(Item.id)))


def test_items_are_created_once_then_reported_unchanged(world, writer):
    created = writer.post(ITEMS, json={"items": [item(1), item(2), item(3)]})
    assert created.status_code == 201, created.text
    assert created.json() == {"created": 3, "unchanged": 0}
    again = writer.post(ITEMS, json={"items": [item(1), item(2), item(4)]})
    assert (again.status_code, again.json()) == (201, {"created": 1, "unchanged": 2})
    nothing_new = writer.post(ITEMS, json={"items": [item(1)]})
    assert (nothing_new.status_code, nothing_new.json()) == (200, {"created": 0, "unchanged": 1})

    stored = stored_items(world)
    assert [i.external_id for i in stored] == ["t-1", "t-2", "t-3", "t-4"]
    assert {i.status for i in stored} == {"queued"}
    with Session(world.sandbox.ctx.engine) as session:
        created_events = session.exec(select(Event).where(Event.kind == "item_created")).all()
    assert len(created_events) == 4
    assert {e.data["source"] for e in created_events} == {"api"}
    assert {e.actor for e in created_events} == {"api-token:1"}


def test_one_bad_item_refuses_the_whole_request_naming_each_item_and_field(world, writer):
    before = stored(world)
    body = {
        "items": [
            item(1),
            {"id": "t-2", "conversation": "not a list"},
            item(3, prediction={"label": "nonsense", "confidence": 0.5}),
            item(1),  # repeats item 0
            {"id": "t-5", "conversation": conversation_of_nul()},
            "not an object",
        ]
    }
    refused = writer.post(ITEMS, json=body)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "invalid_items"
    assert "nothing was stored" in error["message"]
    found = {(d["index"], d["field"]) for d in error["details"]}
    assert found == {
        (1, "items.1.conversation"),
        (2, "items.2.prediction.label"),
        (3, "items.3.id"),
        (4, "items.4.conversation.0.content"),
        (5, "items.5"),
    }
    by_index = {d["index"]: d["message"] for d in error["details"]}
    assert "'nonsense' is not a label of support-intent" in by_index[2]
    assert "repeats item 0" in by_index[3]
    assert "NUL" in by_index[4]
    assert by_index[5] == "each record must be a JSON object"
    assert stored(world) == before


def conversation_of_nul() -> list[dict]:
    return [{"role": "user", "content": "a\x00b"}, {"role": "assistant", "content": "ok"}]


def test_an_id_imported_before_with_other_content_is_409_and_nothing_is_stored(world, writer):
    assert writer.post(ITEMS, json={"items": [item(1)]}).status_code == 201
    before = stored(world)
    changed = writer.post(ITEMS, json={"items": [item(2), item(1, text="other words")]})
    assert changed.status_code == 409, changed.text
    error = changed.json()["error"]
    assert error["code"] == "item_conflict"
    assert error["details"] == [
        {
            "field": "items.1.id",
            "index": 1,
            "message": "id 't-1' was imported before with different content; it was not "
            "overwritten (give the new version a new id)",
        }
    ]
    assert stored(world) == before


def test_more_than_1000_items_are_refused_naming_the_limit(world, writer):
    refused = writer.post(ITEMS, json={"items": [item(n) for n in range(1001)]})
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "too_many_items"
    assert "1,001 items, over the limit of 1,000 per request" in error["message"]
    assert error["details"][0]["field"] == "items"
    assert writer.post(ITEMS, json={"items": [item(n) for n in range(1000)]}).status_code == 201


def test_a_body_that_is_not_items_names_what_is_wrong(writer):
    cases = {
        b"": "body",
        b"{not json": "body",
        b"[1, 2]": "body",
        b'{"item": []}': "item",
        b'{"items": {}}': "items",
        b'{"items": []}': "items",
        b"\xff\xfe": "body",
        b'{"items": [' + b"[" * 5000 + b"]" * 5000 + b"]}": "items.0.0.0",
    }
    for body, field in cases.items():
        refused = writer.post(ITEMS, content=body, headers={"content-type": "application/json"})
        assert refused.status_code == 422, (body[:20], refused.text)
        error = refused.json()["error"]
        assert error["details"][0]["field"].startswith(field), (body[:20], error)


def test_idempotency_key_replays_the_first_answer_and_refuses_another_body(world, writer):
    key = {"Idempotency-Key": "batch-2026-01-05-0001"}
    first = writer.post(ITEMS, json={"items": [item(1), item(2)]}, headers=key)
    assert (first.status_code, first.json()) == (201, {"created": 2, "unchanged": 0})
    after_first = stored(world)

    # The same items, serialised otherwise (key order, spacing): the same request.
    same = json.dumps({"items": [dict(reversed(item(1).items())), item(2)]}, indent=2)
    retry = writer.post(ITEMS, content=same, headers=key)
    assert (retry.status_code, retry.json()) == (201, {"created": 2, "unchanged": 0})
    assert retry.headers["idempotent-replayed"] == "true"
    assert stored(world) == after_first  # nothing stored

    reused = writer.post(ITEMS, json={"items": [item(3)]}, headers=key)
    assert reused.status_code == 409
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    assert reused.json()["error"]["details"][0]["field"] == "Idempotency-Key"
    assert stored(world) == after_first

    # Without a key (or with a new one), the same items are simply known already.
    plain = writer.post(ITEMS, json={"items": [item(1), item(2)]})
    assert (plain.status_code, plain.json()) == (200, {"created": 0, "unchanged": 2})
    too_long = writer.post(ITEMS, json={"items": [item(5)]}, headers={"Idempotency-Key": "k" * 256})
    assert too_long.status_code == 422
    assert too_long.json()["error"]["details"][0]["field"] == "Idempotency-Key"


def test_keys_belong_to_their_token(world, writer):
    key = {"Idempotency-Key": "k-1"}
    assert writer.post(ITEMS, json={"items": [item(1)]}, headers=key).status_code == 201
    with world.client(world.token("write")) as other:
        answer = other.post(ITEMS, json={"items": [item(2)]}, headers=key)
    assert (answer.status_code, answer.json()) == (201, {"created": 1, "unchanged": 0})


def test_a_body_over_the_limit_is_413_whether_announced_or_streamed(open_world):
    with open_world(quorum_api_max_body_bytes=4096) as world:
        with world.client(world.token()) as client:
            big = {"items": [item(1, text="x" * 5000)]}
            announced = client.post(ITEMS, json=big)
            assert announced.status_code == 413
            error = announced.json()["error"]
            assert error["code"] == "payload_too_large"
            assert error["details"][0]["field"] == "body"

            def chunks():
                yield b'{"items": ['
                for _ in range(40):  # about 8 KiB
                    yield json.dumps(item(1)).encode() + b","
                yield b"{}]}"

            streamed = client.post(ITEMS, content=chunks())  # chunked: no Content-Length
            assert streamed.status_code == 413
            assert streamed.json()["error"]["code"] == "payload_too_large"
            assert client.post(ITEMS, json={"items": [item(1)]}).status_code == 201
        assert [i.external_id for i in stored_items(world)] == ["t-1"]


def test_unknown_paths_and_methods_answer_in_the_error_shape(world, writer):
    unknown = writer.get("/nothing/here")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
    assert unknown.json()["error"]["details"][0]["field"] == "path"
    wrong = writer.delete(ITEMS)
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "POST"
    assert wrong.json()["error"]["code"] == "method_not_allowed"
    for root in ("/api", "/api/"):
        answer = httpx_get(world, root)
        assert answer.status_code == 404, root
        assert answer.headers["content-type"] == "application/json"
        assert answer.json()["error"]["code"] == "not_found"
    head = writer.head(f"/projects/{PROJECT}/stats")  # documented: GET only
    assert (head.status_code, head.headers["allow"]) == (405, "GET")
    assert httpx_get(world, "/slack/events").status_code == 405  # Slack's endpoint as before


def httpx_get(world, path: str):
    return httpx.get(f"{world.server.url}{path}")


def test_an_item_goes_from_queued_to_signed_off_with_its_answers_and_label(world, writer):
    sandbox = world.sandbox
    assert writer.post(ITEMS, json={"items": [item("a/b")]}).status_code == 201
    path = f"{ITEMS}/t-a%2Fb"  # ids are URL-encoded, a slash included
    queued = writer.get(path).json()
    assert queued["status"] == "queued" and queued["answers"] == [] and queued["label"] is None

    sandbox.settle()
    reviewers = [user for user in ("U01ALICE", "U02BOB", "U03CARA", "U04DAN") if sandbox.dm(user)]
    assert writer.get(path).json()["status"] == "in_review"
    press(sandbox, reviewers[0], sandbox.latest_dm(reviewers[0]), "bug")
    answered = writer.get(path).json()
    assert answered["status"] == "in_review"
    assert [(a["reviewer"], a["value"], a["revision"]) for a in answered["answers"]] == [
        (reviewers[0], "bug", 1)
    ]
    for reviewer in reviewers[1:]:
        press(sandbox, reviewer, sandbox.latest_dm(reviewer), "bug")
    done = writer.get(path).json()
    assert done["status"] == "signed_off"
    assert len(done["answers"]) == 3
    assert done["label"]["id"] == "t-a/b" and done["label"]["value"] == "bug"
    assert done["label"]["method"] == "consensus"
    assert done["provenance"] == done["label"]["provenance"]
    assert [r["reviewer"] for r in done["provenance"]["responses"]] == reviewers
    # On PostgreSQL the feed serves a label once every older write transaction of the
    # server has ended (storage.api_queries.feed_positions): poll, as a consumer does.
    feed = wait_for(
        lambda: writer.get(f"/projects/{PROJECT}/labels").json()["labels"], what="the label"
    )
    assert feed == [done["label"]]

    missing = writer.get(f"{ITEMS}/t-nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["details"][0]["field"] == "id"
    assert writer.get(f"{ITEMS}/t%00x").status_code == 404


def test_a_body_that_stops_arriving_is_408_in_the_error_shape(open_world):
    with open_world(quorum_http_body_timeout_s=0.5) as world:
        token = world.token()
        host, port = "127.0.0.1", world.server.port
        with socket.create_connection((host, port), timeout=10) as sock:
            head = (
                f"POST /api/v1{ITEMS} HTTP/1.1\r\nHost: {host}\r\n"
                f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                "Content-Length: 1000\r\n\r\n"
            )
            sock.sendall(head.encode() + b'{"items": [')  # and then nothing more
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        status, _, rest = answer.partition(b"\r\n")
        assert status == b"HTTP/1.1 408 Request Timeout"
        error = json.loads(rest.partition(b"\r\n\r\n")[2])["error"]
        assert error["code"] == "request_timeout"
        assert error["details"][0]["field"] == "body"
        assert stored_items(world) == []


def test_concurrent_retries_with_one_key_store_once_and_all_get_the_first_answer(world, writer):
    body = {"items": [item(n) for n in range(50)]}
    key = {"Idempotency-Key": "the-same-batch"}
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: writer.post(ITEMS, json=body, headers=key), range(4)))
    assert [(a.status_code, a.json()) for a in answers] == [
        (201, {"created": 50, "unchanged": 0})
    ] * 4
    assert len(stored_items(world)) == 50
    with Session(world.sandbox.ctx.engine) as session:
        assert len(session.exec(select(ApiIdempotency)).all()) == 1


def test_an_item_nobody_qualified_can_take_says_why_it_waits(world, writer):
    sandbox = world.sandbox
    apply(sandbox.ctx.engine, kind_config(PROJECT, overlap=2))
    needs_german = {**item(1), "requires": {"languages": ["de"]}}
    assert writer.post(ITEMS, json={"items": [needs_german, item(2)]}).status_code == 201
    sandbox.settle()
    waiting = writer.get(f"{ITEMS}/t-1").json()
    assert waiting["status"] == "queued"
    assert waiting["waiting"] == (
        "understaffed: needs de, none of the project's 4 reviewers qualifies"
    )
    assert writer.get(f"{ITEMS}/t-2").json()["waiting"] is None
