"""The returns API: centres report events (idempotent, only on their own returns),
list returns, export the returns to expect as CSV; centre tokens; the schema."""

import csv
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from emails.models import Message
from returns import services
from returns.models import Condition, FulfilmentCentre, ReturnEvent, ReturnStatus
from shop.services import create_api_token
from tests.factories import CategoryFactory, CustomerFactory
from tests.returns import core_setup as setup

S = ReturnStatus


@pytest.fixture
def centres(db):
    setup.policy()
    main = setup.centre()
    other = setup.centre(name="Other 3PL", code="other", is_default=False)
    return main, other


def _client(centre: FulfilmentCentre) -> Client:
    _centre, key = services.create_centre_token(centre=centre)
    return Client(HTTP_AUTHORIZATION=f"Token {key}")


def _events_url(rma: str) -> str:
    return reverse("returns-api:events", args=[rma])


def _post(client, rma, body):
    return client.post(_events_url(rma), body, content_type="application/json")


def test_a_centre_reports_a_return_received(centres):
    main, _other = centres
    request = setup.submit(setup.order())
    line = request.lines.get()

    response = _post(
        _client(main),
        request.rma,
        {
            "event_id": "wms-1",
            "kind": "received",
            "lines": [{"line_id": line.pk, "condition": "opened"}],
        },
    )

    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("event_id", "kind", "rma", "status")} == {
        "event_id": "wms-1",
        "kind": "received",
        "rma": request.rma,
        "status": "received",
    }
    request.refresh_from_db()
    line.refresh_from_db()
    assert request.status == S.RECEIVED
    assert line.condition == Condition.OPENED
    event = request.events.last()
    assert (event.actor, event.centre, event.external_id) == ("centre", main, "wms-1")


def test_a_replayed_event_gets_the_same_answer_and_changes_nothing(centres):
    main, _other = centres
    request = setup.submit(setup.order())
    client = _client(main)
    body = {"event_id": "wms-7", "kind": "received", "lines": []}
    first = _post(client, request.rma, body)
    events, messages = ReturnEvent.objects.count(), Message.objects.count()

    replay = _post(client, request.rma, body)

    assert (replay.status_code, replay.json()) == (first.status_code, first.json())
    assert ReturnEvent.objects.count() == events
    assert Message.objects.count() == messages
    # the same id for another kind of event is a conflict
    other_kind = _post(client, request.rma, {"event_id": "wms-7", "kind": "inspected"})
    assert other_kind.status_code == 409
    assert other_kind.json()["errors"][0]["path"] == "event_id"


def test_inspection_and_disposition_through_the_api(centres):
    main, _other = centres
    request = setup.submit(setup.order())
    line = request.lines.get()
    client = _client(main)
    _post(client, request.rma, {"event_id": "e1", "kind": "received"})

    inspected = _post(
        client,
        request.rma,
        {
            "event_id": "e2",
            "kind": "inspected",
            "lines": [
                {
                    "line_id": line.pk,
                    "confirmed_reason": "defective",
                    "condition": "damaged",
                }
            ],
        },
    )
    disposed = _post(
        client,
        request.rma,
        {
            "event_id": "e3",
            "kind": "disposition",
            "lines": [{"line_id": line.pk, "disposition": "recycle"}],
        },
    )

    assert (inspected.status_code, disposed.status_code) == (200, 200)
    assert disposed.json()["status"] == "inspected"
    line.refresh_from_db()
    assert (line.confirmed_reason.code, line.condition, line.disposition) == (
        "defective",
        "damaged",
        "recycle",
    )


def test_a_step_out_of_order_is_a_conflict_and_changes_nothing(centres):
    main, _other = centres
    request = setup.submit(setup.order())
    response = _post(_client(main), request.rma, {"event_id": "x", "kind": "inspected"})
    assert response.status_code == 409
    request.refresh_from_db()
    assert request.status == S.APPROVED
    assert not ReturnEvent.objects.filter(external_id="x").exists()


def test_another_centre_cannot_report_on_the_return(centres):
    _main, other = centres
    request = setup.submit(setup.order())
    response = _post(_client(other), request.rma, {"event_id": "z", "kind": "received"})
    assert response.status_code == 404
    request.refresh_from_db()
    assert request.status == S.APPROVED


@pytest.mark.parametrize(
    ("header", "status"),
    [("", 401), ("Token not-a-key", 401), ("shop", 403)],
)
def test_only_centre_tokens_may_post_events(centres, header, status):
    request = setup.submit(setup.order())
    if header == "shop":
        _token, key = create_api_token(name="webshop")
        header = f"Token {key}"
    client = Client(HTTP_AUTHORIZATION=header) if header else Client()
    response = _post(client, request.rma, {"event_id": "a", "kind": "received"})
    assert response.status_code == status
    assert "errors" in response.json()
    request.refresh_from_db()
    assert request.status == S.APPROVED


def test_a_revoked_centre_token_is_refused(centres):
    main, _other = centres
    request = setup.submit(setup.order())
    client = _client(main)
    services.revoke_centre_token(centre=main)
    response = _post(client, request.rma, {"event_id": "a", "kind": "received"})
    assert response.status_code == 401
    assert main.revoked_at is not None
    # a new key works again
    assert (
        _post(
            _client(main), request.rma, {"event_id": "a", "kind": "received"}
        ).status_code
        == 200
    )


def test_bad_bodies_name_the_field(centres):
    main, _other = centres
    request = setup.submit(setup.order())
    response = _post(_client(main), request.rma, {"event_id": "a", "kind": "lost"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "kind"


def test_the_list_shows_a_centre_only_its_own_returns(centres):
    main, other = centres
    shoes = CategoryFactory(name="Shoes")
    other.categories.add(shoes)
    mine = setup.submit(setup.order())
    theirs = setup.submit(setup.order(category=shoes))
    assert (mine.centre, theirs.centre) == (main, other)

    response = _client(main).get(reverse("returns-api:list"), {"centre": "other"})

    assert response.status_code == 200
    assert [r["rma"] for r in response.json()["results"]] == [mine.rma]


def test_the_shop_lists_by_status_and_centre_paginated(centres):
    main, _other = centres
    first = setup.submit(setup.order())
    second = setup.submit(setup.order())
    services.cancel(request=first)
    _token, key = create_api_token(name="webshop")
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")

    approved = client.get(reverse("returns-api:list"), {"status": "approved"}).json()
    page = client.get(
        reverse("returns-api:list"), {"centre": "main", "page_size": 1}
    ).json()
    bad = client.get(reverse("returns-api:list"), {"centre": "nowhere"})

    assert [r["rma"] for r in approved["results"]] == [second.rma]
    assert approved["results"][0]["lines"][0]["reason"] == "changed-mind"
    assert page["count"] == 2
    assert len(page["results"]) == 1
    assert page["next"].endswith("page=2&page_size=1") or "page=2" in page["next"]
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["path"] == "centre"


def test_list_queries_do_not_grow_with_returns(centres, django_assert_max_num_queries):
    main, _other = centres
    client = _client(main)
    for _n in range(5):
        setup.submit(setup.order(lines=3, quantity=1), *[])
    with django_assert_max_num_queries(8):
        response = client.get(reverse("returns-api:list"))
    assert response.json()["count"] == 5


def test_the_csv_lists_what_the_centre_should_expect(centres):
    main, _other = centres
    setup.policy(
        title="Cheap",
        is_default=False,
        categories=[CategoryFactory(name="Socks")],
        returnless_max_item_value=Decimal("100"),
    )
    customer = CustomerFactory(first_name="=cmd", last_name="Jansen")
    expected = setup.submit(setup.order(customer=customer))
    kept = setup.submit(
        setup.order(category=CategoryFactory(name="Socks"), price="2.00")
    )
    received = setup.submit(setup.order())
    services.receive(request=received)
    assert kept.lines.get().returnless is True

    response = _client(main).get(reverse("returns-api:export"))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["rma"] for row in rows] == [expected.rma]
    line = expected.lines.get()
    assert rows[0]["line_id"] == str(line.pk)
    assert rows[0]["sku"] == line.order_line.product.sku
    assert rows[0]["quantity"] == "1"
    assert rows[0]["customer_name"] == "'=cmd Jansen"


def test_the_shop_must_name_a_centre_for_the_csv(centres):
    _token, key = create_api_token(name="webshop")
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(reverse("returns-api:export")).status_code == 400
    assert (
        client.get(reverse("returns-api:export"), {"centre": "main"}).status_code == 200
    )


def test_create_centre_token_prints_the_key_once_and_stores_a_hash(centres, capsys):
    main, _other = centres
    call_command("create_centre_token", "main")
    key = capsys.readouterr().out.strip()
    main.refresh_from_db()
    assert main.key_hash == FulfilmentCentre.hash_key(key)
    assert main.key_prefix == key[:8]
    assert key not in main.key_hash
    request = setup.submit(setup.order())
    response = Client(HTTP_AUTHORIZATION=f"Token {key}").get(
        reverse("returns-api:list")
    )
    assert response.json()["results"][0]["rma"] == request.rma


def test_create_centre_token_refuses_an_unknown_code(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("create_centre_token", "nowhere")


def test_the_schema_documents_the_returns_api_without_warnings(db, tmp_path):
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--file",
        str(tmp_path / "schema.yaml"),
    )
    schema = (tmp_path / "schema.yaml").read_text()
    for path in (
        "/api/v1/returns:",
        "/api/v1/returns/export.csv:",
        "/api/v1/returns/{rma}/events:",
    ):
        assert path in schema
