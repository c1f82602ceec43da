"""QUORUM_WEBHOOK_ALLOW_PRIVATE=false: loopback, private, link-local, multicast and
reserved targets are refused when a webhook is added and again when it is sent (also a
name that resolved to a public address when added and to a private one now)."""

from __future__ import annotations

import socket

import pytest
from sqlmodel import Session, select

from bot.webhooks.sender import WebhookSender
from bot.webhooks.targets import TargetRefused, address_problem, check_target
from storage.models import Webhook, WebhookAttempt, WebhookDelivery
from tests.factories import REVIEWERS, seed_item
from tests.factories import chat as chat_content


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("2002:a00:1::", "a private address"),  # 6to4 around 10.0.0.1
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "a private address"),  # Teredo, 10.0.0.1
        ("2002:808:808::", None),  # 6to4 around 8.8.8.8
        ("10.1.2.3", "a private address"),
        ("192.168.0.10", "a private address"),
        ("172.16.5.4", "a private address"),
        ("169.254.169.254", "a link-local address"),  # cloud metadata endpoints
        ("fe80::1", "a link-local address"),
        ("224.0.0.251", "a multicast address"),
        ("0.0.0.0", "an unspecified address"),
        ("240.0.0.1", "a reserved address"),
        ("100.64.0.1", "a non-public address"),  # carrier-grade NAT
        ("8.8.8.8", None),
        ("2606:4700::1111", None),
    ],
)
def test_which_addresses_are_private(address, problem):
    assert address_problem(address) == problem


def resolver_to(address: str):
    """A getaddrinfo that resolves every name to `address` (no DNS server here)."""

    def resolve(host, port, *args, **kwargs):
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

    return resolve


def test_a_public_name_is_accepted_and_private_ones_are_refused_after_resolution():
    public = resolver_to("93.184.215.14")
    url = "https://hooks.example.com/quorum"
    assert check_target(url, allow_private=False, resolver=public) == url
    with pytest.raises(TargetRefused, match="resolves to 10.0.0.7, a private address"):
        check_target(url, allow_private=False, resolver=resolver_to("10.0.0.7"))
    # Allowed by default: nothing is resolved when a webhook is added.
    assert check_target("http://10.0.0.7:8080/in", allow_private=True) == "http://10.0.0.7:8080/in"
    with pytest.raises(TargetRefused, match="http or https"):
        check_target("file:///etc/passwd", allow_private=True)
    with pytest.raises(TargetRefused, match="names no host"):
        check_target("http:///path", allow_private=True)


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://127.0.0.1:8080/hook", "127.0.0.1 is a loopback address"),
        ("http://10.20.30.40/hook", "10.20.30.40 is a private address"),
        ("http://localhost:3000/hook", "a loopback address"),
        ("http://[::1]/hook", "::1 is a loopback address"),
    ],
)
def test_adding_a_private_target_is_refused_when_private_targets_are_off(
    engine, project, quorum_webhook, url, said
):
    refused = quorum_webhook(
        "add", "--project", "support-intent", url, QUORUM_WEBHOOK_ALLOW_PRIVATE="false"
    )
    assert refused.exit_code == 2, refused.output
    flat = " ".join(refused.output.split())
    assert said in flat and "QUORUM_WEBHOOK_ALLOW_PRIVATE=false" in flat
    with Session(engine) as session:
        assert session.exec(select(Webhook)).all() == []


def test_a_private_target_is_refused_at_send_time(
    engine, clock, project, receiver, add_webhook, sender
):
    add_webhook(f"{receiver.url}/hook")  # allowed when it was added
    rebinding = add_webhook("http://hooks.quorum.invalid/hook")
    seed_item(
        engine,
        clock,
        "support-intent",
        external_id="t-1",
        content=chat_content(),
        answers=[(reviewer, "billing") for reviewer in REVIEWERS[:3]],
    )
    # Now private targets are off, and the name resolves to the loopback (DNS rebinding).
    guarded = WebhookSender(
        engine, clock=clock, allow_private=False, resolver=resolver_to("127.0.0.1")
    )
    try:
        assert guarded.run_once() == 2
    finally:
        guarded.stop()
    assert receiver.received == []
    with Session(engine) as session:
        attempts = session.exec(select(WebhookAttempt)).all()
        deliveries = session.exec(select(WebhookDelivery)).all()
    assert len(attempts) == 2
    assert all(a.status is None and "refused" in (a.error or "") for a in attempts)
    errors = sorted(a.error or "" for a in attempts)
    assert "127.0.0.1 is a loopback address" in errors[0]
    assert "hooks.quorum.invalid resolves to 127.0.0.1, a loopback address" in errors[1]
    assert {d.status for d in deliveries} == {"pending"}  # retried: settings can change
    assert {d.webhook_id for d in deliveries} >= {rebinding.id}

    clock.advance(seconds=10)
    assert sender.run_once() == 2  # allowed again: the receiver's is delivered
    assert len(receiver.received) == 1
