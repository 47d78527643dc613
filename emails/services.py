"""Every write to the outbox. A message moves only along models.TRANSITIONS, one
service per move, each writing a MessageEvent; see docs/adr/0002-email-outbox.md.

Sending, in short: `enqueue` writes a row in the caller's transaction and kicks the
sender on commit; `send_due_messages` claims due rows under a lease
(select_for_update(skip_locked=True)), renders them, marks each request's rows just
before the HTTP call, and records the outcome. The beat sweep (`sweep`) applies
pending SendGrid events, reclaims rows whose lease expired, resends an ambiguous row
once when no event proved it arrived, and kicks the sender for anything due.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template import TemplateDoesNotExist, TemplateSyntaxError
from django.utils import timezone

from config.bulk import insert_rows
from emails import rendering, transport
from emails.models import (
    TRANSITIONS,
    Category,
    EventKind,
    Message,
    MessageEvent,
    ProviderEvent,
    SharedPart,
    Status,
    Suppression,
    SuppressionReason,
)
from shop.models import ConsentSource, Customer
from shop.serializers import unstorable_text_path

logger = logging.getLogger(__name__)


class IllegalTransition(Exception):
    """A message may not move from its status to the one asked for."""


class OutboxKeyReused(ValueError):
    """The key already names a message to another recipient."""


class NothingToSend(ValueError):
    """enqueue() needs a template, or a subject with a text or HTML part."""


# Transitions -----------------------------------------------------------------------


def _allowed(from_statuses: Iterable[str], to: str) -> None:
    for status in from_statuses:
        if to not in TRANSITIONS[status]:
            raise IllegalTransition(f"{status} → {to}")


def _transition(
    ids: Iterable[int],
    *,
    from_statuses: Iterable[str],
    to: str,
    now: datetime,
    detail: str = "",
    only: Q | None = None,
    strict: bool = False,
    locked: dict[int, str] | None = None,
    **values: Any,
) -> list[int]:
    """Move the rows among `ids` that are in one of `from_statuses` (and match
    `only`) to `to`, with an event each; rows elsewhere are left alone, or refused
    with IllegalTransition when `strict`. `locked`: the rows (pk → status) the
    caller has already locked in this transaction. Returns the ids moved."""
    from_statuses = list(from_statuses)
    _allowed(from_statuses, to)
    ids = list(ids)
    if not ids:
        return []
    movable = Q(status__in=from_statuses) & (only or Q())
    with transaction.atomic():
        if locked is None and not strict and len(from_statuses) == 1:
            moved = _update_first(ids, movable, from_statuses[0], to, values)
        else:
            if locked is None:
                locked = dict(
                    Message.objects.filter(movable, pk__in=ids)
                    .order_by("pk")
                    .select_for_update()
                    .values_list("pk", "status")
                )
            moved = locked
            if strict and len(moved) != len(set(ids)):
                current = dict(
                    Message.objects.filter(pk__in=ids).values_list("pk", "status")
                )
                refused = [pk for pk in ids if pk not in moved]
                raise IllegalTransition(
                    ", ".join(f"#{pk}: {current.get(pk, '?')} → {to}" for pk in refused)
                )
            if moved:
                Message.objects.filter(pk__in=list(moved)).update(
                    status=to, updated_at=timezone.now(), **values
                )
        insert_rows(
            MessageEvent,
            _EVENT_FIELDS,
            [
                (pk, EventKind.STATUS, status, to, detail[:2000], now)
                for pk, status in moved.items()
            ],
        )
    return list(moved)


_EVENT_FIELDS = ("message", "kind", "from_status", "to_status", "detail", "occurred_at")


def _update_first(
    ids: list[int], movable: Q, from_status: str, to: str, values: dict
) -> dict[int, str]:
    """One UPDATE instead of lock-then-update (locking a row writes it too): the
    rows it changed are all of them when the count says so, else the ones carrying
    this call's own updated_at."""
    ids = list(dict.fromkeys(ids))
    stamp = timezone.now()
    count = Message.objects.filter(movable, pk__in=ids).update(
        status=to, updated_at=stamp, **values
    )
    if count == len(ids):
        return dict.fromkeys(ids, from_status)
    if not count:
        return {}
    return dict.fromkeys(
        Message.objects.filter(pk__in=ids, status=to, updated_at=stamp).values_list(
            "pk", flat=True
        ),
        from_status,
    )


# Enqueueing ------------------------------------------------------------------------


def enqueue(
    *,
    key: str,
    to_email: str,
    sender_label: str,
    template: str = "",
    context: dict | None = None,
    language: str = "",
    category: str = Category.SERVICE,
    customer: Customer | None = None,
    subject: str = "",
    html: str = "",
    text: str = "",
    from_email: str = "",
    reply_to: str = "",
    send_after: datetime | None = None,
) -> Message:
    """Write the message to the outbox unless its key is there already (then return
    that one). Call it inside your own transaction: the row commits or rolls back
    with your change, and the sender is kicked only on commit.

    Give either a template (templates/emails/<template>/) and its JSON-able context,
    rendered in `language` (default: the customer's) when sent, or a ready-made
    subject and text/HTML. A ready-made row may carry per-recipient substitution
    tags, their values in `context["substitutions"]` (filled by SendGrid, so rows
    sharing the content still share one request). `send_after`: not before then.
    """
    if not template and not (subject and (text or html)):
        raise NothingToSend(key)
    to_email = to_email.strip().lower()
    now = timezone.now()
    with transaction.atomic():
        try:
            with transaction.atomic():
                message = Message.objects.create(
                    key=key,
                    to_email=to_email,
                    customer=customer,
                    category=category,
                    sender_label=sender_label,
                    template=template,
                    context=context or {},
                    language=language or (customer.language if customer else "en"),
                    subject=subject,
                    html=html,
                    text=text,
                    from_email=from_email,
                    reply_to=reply_to,
                    status=Status.QUEUED,
                    next_attempt_at=send_after or now,
                )
        except IntegrityError:
            message = Message.objects.get(key=key)
            if message.to_email != to_email:
                raise OutboxKeyReused(key) from None
            return message
        MessageEvent.objects.create(
            message=message,
            kind=EventKind.STATUS,
            to_status=Status.QUEUED,
            detail=sender_label,
            occurred_at=now,
        )
    if send_after is None or send_after <= now:
        schedule_sending()
    return message


def enqueue_many(*, messages: list[dict[str, Any]]) -> dict[str, int]:
    """`enqueue` for a batch (a campaign's thousand recipients): the same fields per
    item, written with one INSERT ... ON CONFLICT DO NOTHING on the key and one for
    the events, in the caller's transaction. An item names its customer by
    `customer` (a Customer) or by `customer_id` (then give its `language`). Returns
    {key: message pk} for every item, new or already there; keys already taken are
    left as they are."""
    if not messages:
        return {}
    now = timezone.now()
    rows = []
    for item in messages:
        context = item.get("context") or {}
        if not item.get("template") and not (
            item.get("subject")
            and (item.get("text") or item.get("html") or context.get("parts"))
        ):
            raise NothingToSend(item["key"])
        customer = item.get("customer")
        rows.append(
            (
                item["key"],
                item["to_email"].strip().lower(),
                customer.pk if customer is not None else item.get("customer_id"),
                item.get("category", Category.SERVICE),
                item["sender_label"],
                item.get("template", ""),
                context,
                item.get("language") or (customer.language if customer else "en"),
                item.get("from_email", ""),
                item.get("reply_to", ""),
                item.get("subject", ""),
                item.get("html", ""),
                item.get("text", ""),
                Status.QUEUED,
                0,
                0,
                item.get("send_after") or now,
                "",
                "",
                now,
                now,
            )
        )
    with transaction.atomic():
        inserted = {
            key: pk
            for pk, key in insert_rows(
                Message,
                _INSERT_FIELDS,
                rows,
                ignore_conflicts_on=["key"],
                returning=["id", "key"],
            )
        }
        ids = dict(inserted)
        if len(inserted) < len(rows):
            ids |= dict(
                Message.objects.filter(
                    key__in=[row[0] for row in rows if row[0] not in inserted]
                ).values_list("key", "pk")
            )
        labels = {row[0]: row[4] for row in rows}
        insert_rows(
            MessageEvent,
            _EVENT_FIELDS,
            [
                (pk, EventKind.STATUS, "", Status.QUEUED, labels[key], now)
                for key, pk in inserted.items()
            ],
        )
    if any(row[16] <= now for row in rows):
        schedule_sending()
    return ids


def share_parts(contents: Iterable[str]) -> dict[str, int]:
    """{content: SharedPart id} for ready-made content that many rows will name
    (see SharedPart): written once whatever the retries (ON CONFLICT on the
    digest), in the caller's transaction. A row names them in its context:
    `{"parts": {"html": id, "text": id}}` for its HTML and text parts, and a
    substitution value that is a list of ids stands for those parts joined."""
    by_digest = {
        hashlib.sha256(content.encode()).hexdigest(): content
        for content in set(contents)
    }
    if not by_digest:
        return {}
    insert_rows(
        SharedPart,
        ["digest", "content", "created_at"],
        [(digest, content, timezone.now()) for digest, content in by_digest.items()],
        ignore_conflicts_on=["digest"],
    )
    return {
        by_digest[digest]: pk
        for digest, pk in SharedPart.objects.filter(
            digest__in=list(by_digest)
        ).values_list("digest", "pk")
    }


# The columns enqueue_many writes, in its rows' order.
_INSERT_FIELDS = (
    "key",
    "to_email",
    "customer",
    "category",
    "sender_label",
    "template",
    "context",
    "language",
    "from_email",
    "reply_to",
    "subject",
    "html",
    "text",
    "status",
    "attempts",
    "ambiguous_resends",
    "next_attempt_at",
    "provider_message_id",
    "last_error",
    "queued_at",
    "updated_at",
)


def _kick_sender() -> None:
    from emails.tasks import send_due_messages_task

    send_due_messages_task.delay()


def schedule_sending(*, countdown: float | None = None) -> None:
    """Start the sender once the current transaction commits (once per transaction,
    however many messages it enqueued). A lost kick only delays: the sweep sends."""
    if countdown:
        from emails.tasks import send_due_messages_task

        transaction.on_commit(
            lambda: send_due_messages_task.apply_async(countdown=countdown),
            robust=True,
        )
        return
    connection = transaction.get_connection()
    if connection.in_atomic_block and any(
        func is _kick_sender for _, func, _ in connection.run_on_commit
    ):
        return
    transaction.on_commit(_kick_sender, robust=True)


# Send-time checks ------------------------------------------------------------------


@dataclass(frozen=True)
class Veto:
    """Do not send this message, ever (it becomes suppressed, with the reason)."""

    reason: str


@dataclass(frozen=True)
class Defer:
    """Not now: back to the queue until `until` (never dropped)."""

    until: datetime
    reason: str


SendCheck = Callable[[list[Message]], dict[int, "Veto | Defer"]]
_SEND_CHECKS: dict[str, SendCheck] = {}


def register_send_check(prefix: str, check: SendCheck) -> None:
    """Let a higher app re-check its messages just before they leave: `check` gets
    the claimed messages whose key starts with `prefix` and answers
    {message pk: Veto | Defer} for those that must not go now. (emails never
    imports the apps that register; they call this from AppConfig.ready.)"""
    _SEND_CHECKS[prefix] = check


def _run_send_checks(messages: list[Message]) -> dict[int, Veto | Defer]:
    verdicts: dict[int, Veto | Defer] = {}
    for prefix, check in _SEND_CHECKS.items():
        mine = [m for m in messages if m.key.startswith(prefix)]
        if mine:
            verdicts |= check(mine)
    return verdicts


# Sending ---------------------------------------------------------------------------


@dataclass
class SendReport:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    suppressed: int = 0
    ambiguous: int = 0
    deferred: int = 0
    requests: int = 0
    ids: list[int] = field(default_factory=list)


def claim_due_messages(
    *, limit: int | None = None, now: datetime | None = None
) -> list[Message]:
    """Lease up to `limit` due queued rows to this worker (sending); rows another
    worker holds are skipped, not waited for."""
    now = now or timezone.now()
    limit = limit or settings.EMAIL_OUTBOX_BATCH_SIZE
    lease_until = now + timedelta(seconds=settings.EMAIL_OUTBOX_LEASE_SECONDS)
    with transaction.atomic():
        messages = list(
            Message.objects.filter(status=Status.QUEUED, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "pk")
            .select_related("customer")
            .select_for_update(skip_locked=True, of=("self",))[:limit]
        )
        if not messages:
            return []
        ids = [message.pk for message in messages]
        _transition(
            ids,
            from_statuses=[Status.QUEUED],
            to=Status.SENDING,
            now=now,
            locked=dict.fromkeys(ids, Status.QUEUED),
            lease_until=lease_until,
            attempts=F("attempts") + 1,
            request_started_at=None,
        )
    for message in messages:
        message.status = Status.SENDING
        message.lease_until = lease_until
        message.attempts += 1
        message.request_started_at = None
    return sorted(messages, key=lambda message: message.pk)


def send_due_messages(
    *, limit: int | None = None, now: datetime | None = None
) -> SendReport:
    return send_claimed(claim_due_messages(limit=limit, now=now))


def send_claimed(messages: list[Message]) -> SendReport:
    report = SendReport(claimed=len(messages), ids=[m.pk for m in messages])
    if not messages:
        return report
    lease = messages[0].lease_until
    mine = Q(lease_until=lease)

    blocked = _suppressed(messages)
    if blocked:
        report.suppressed += len(
            _transition(
                [m.pk for m in blocked],
                from_statuses=[Status.SENDING],
                to=Status.SUPPRESSED,
                now=timezone.now(),
                detail="no marketing consent, or the address is suppressed",
                only=mine,
                lease_until=None,
            )
        )
    blocked_ids = {m.pk for m in blocked}
    verdicts = _run_send_checks([m for m in messages if m.pk not in blocked_ids])
    for pk, verdict in verdicts.items():
        if isinstance(verdict, Veto):
            report.suppressed += len(
                _transition(
                    [pk],
                    from_statuses=[Status.SENDING],
                    to=Status.SUPPRESSED,
                    now=timezone.now(),
                    detail=verdict.reason,
                    only=mine,
                    lease_until=None,
                )
            )
        else:
            # A deferral is not an attempt: give the claim's attempt back.
            report.deferred += len(
                _transition(
                    [pk],
                    from_statuses=[Status.SENDING],
                    to=Status.QUEUED,
                    now=timezone.now(),
                    detail=f"deferred until {verdict.until.isoformat()}: "
                    f"{verdict.reason}",
                    only=mine,
                    lease_until=None,
                    request_started_at=None,
                    attempts=F("attempts") - 1,
                    next_attempt_at=verdict.until,
                )
            )
    blocked_ids |= set(verdicts)
    outgoing, unrenderable = _render([m for m in messages if m.pk not in blocked_ids])
    for message, error in unrenderable:
        report.failed += len(
            record_failed(ids=[message.pk], error=error, lease_until=lease)
        )

    templated = {m.pk for m in messages if m.template}
    for batch in transport.batches(outgoing):
        ids = [item.message_id for item in batch]
        # One write per request: the mark that the request is leaving and, for
        # templated rows, the rendered content (the same for the whole batch, kept
        # for staff's preview; ready-made rows hold theirs already).
        first = batch[0]
        content = {}
        if first.message_id in templated:
            content = {
                "subject": first.subject[:998],
                "html": first.html,
                "text": first.text,
            }
        Message.objects.filter(
            pk__in=ids, status=Status.SENDING, lease_until=lease
        ).update(request_started_at=timezone.now(), **content)
        result = transport.send(batch)
        report.requests += 1
        if result.outcome == transport.ACCEPTED:
            report.sent += len(
                record_sent(
                    ids=ids,
                    provider_message_id=result.provider_message_id,
                    lease_until=lease,
                )
            )
        elif result.outcome == transport.RETRY:
            retried, failed = record_retry(
                ids=ids,
                error=result.error,
                retry_after=result.retry_after,
                lease_until=lease,
            )
            report.retried += len(retried)
            report.failed += len(failed)
        elif result.outcome == transport.AMBIGUOUS:
            report.ambiguous += len(
                record_ambiguous(ids=ids, error=result.error, lease_until=lease)
            )
        else:
            report.failed += len(
                record_failed(ids=ids, error=result.error, lease_until=lease)
            )
    return report


def _suppressed(messages: list[Message]) -> list[Message]:
    marketing = [m for m in messages if m.category == Category.MARKETING]
    if not marketing:
        return []
    suppressed = set(
        Suppression.objects.filter(
            email__in={m.to_email for m in marketing}
        ).values_list("email", flat=True)
    )
    return [
        m
        for m in marketing
        if m.to_email in suppressed
        or m.customer is None
        or not m.customer.marketing_consent
    ]


def _render(
    messages: list[Message],
) -> tuple[list[transport.Outgoing], list[tuple[Message, str]]]:
    """Render each distinct content once and build what the transport sends."""
    brand = None
    rendered: dict[str, rendering.Rendered] = {}
    failures: dict[str, str] = {}
    outgoing, unrenderable = [], []
    parts = rendering.load_parts(messages)
    for message in messages:
        if message.template:
            key = rendering.render_key(message)
            if key not in rendered and key not in failures:
                if brand is None:
                    brand = rendering.brand()
                try:
                    rendered[key] = rendering.render(
                        message, brand_values=brand, with_substitutions=False
                    )
                except (TemplateDoesNotExist, TemplateSyntaxError) as exc:
                    failures[key] = f"template {message.template}: {exc!r}"
            if key in failures:
                unrenderable.append((message, failures[key]))
                continue
            content = rendered[key]
        else:
            content = rendering.render(message, with_substitutions=False, parts=parts)
        headers = {}
        substitutions = rendering.substitutions_for(message, parts)
        if message.category == Category.MARKETING and message.customer_id:
            unsubscribe = substitutions.get(
                rendering.UNSUBSCRIBE_TAG
            ) or rendering.unsubscribe_url(message.customer_id)
            headers = {
                "List-Unsubscribe": f"<{unsubscribe}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            }
        outgoing.append(
            transport.Outgoing(
                message_id=message.pk,
                key=message.key,
                to_email=message.to_email,
                from_email=message.from_email or settings.DEFAULT_FROM_EMAIL,
                reply_to=message.reply_to,
                subject=content.subject,
                html=content.html,
                text=content.text,
                categories=(message.category, message.sender_label[:255]),
                substitutions=substitutions,
                headers=headers,
            )
        )
    return outgoing, unrenderable


def record_sent(
    *, ids: list[int], provider_message_id: str, lease_until: datetime | None = None
) -> list[int]:
    """SendGrid accepted: sending → sent. Also ambiguous → sent, for an answer that
    arrived after the lease ran out."""
    now = timezone.now()
    values = {
        "provider_message_id": provider_message_id[:100],
        "sent_at": now,
        "lease_until": None,
        "last_error": "",
        "next_attempt_at": None,
    }
    moved = []
    if lease_until is not None:
        moved = _transition(
            ids,
            from_statuses=[Status.SENDING],
            to=Status.SENT,
            now=now,
            detail=provider_message_id,
            only=Q(lease_until=lease_until),
            **values,
        )
    rest = [pk for pk in ids if pk not in set(moved)]
    if rest:
        moved += _transition(
            rest,
            from_statuses=[Status.AMBIGUOUS],
            to=Status.SENT,
            now=now,
            detail=provider_message_id,
            strict=lease_until is None,
            **values,
        )
    return moved


def record_failed(
    *, ids: list[int], error: str, lease_until: datetime | None = None
) -> list[int]:
    """A permanent refusal (4xx other than 429, an unrenderable template)."""
    return _transition(
        ids,
        from_statuses=[Status.SENDING],
        to=Status.FAILED,
        now=timezone.now(),
        detail=error,
        only=Q(lease_until=lease_until) if lease_until else None,
        strict=lease_until is None,
        last_error=error,
        lease_until=None,
        next_attempt_at=None,
    )


def backoff_seconds(attempts: int, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter, never sooner than SendGrid asks."""
    ceiling = min(
        settings.EMAIL_OUTBOX_RETRY_MAX_SECONDS,
        settings.EMAIL_OUTBOX_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0),
    )
    delay = random.uniform(ceiling / 2, ceiling)  # noqa: S311  (jitter, not crypto)
    if retry_after is not None:
        delay = max(delay, retry_after + random.uniform(0, 1))  # noqa: S311
    return delay


def record_retry(
    *,
    ids: list[int],
    error: str,
    retry_after: float | None = None,
    lease_until: datetime | None = None,
) -> tuple[list[int], list[int]]:
    """429/5xx or no connection: back to queued with a backoff, or failed once the
    row has used its attempts. Returns (retried ids, failed ids)."""
    now = timezone.now()
    only = Q(lease_until=lease_until) if lease_until else Q()
    exhausted = list(
        Message.objects.filter(
            only,
            pk__in=ids,
            status=Status.SENDING,
            attempts__gte=settings.EMAIL_OUTBOX_MAX_ATTEMPTS,
        ).values_list("pk", flat=True)
    )
    failed = []
    if exhausted:
        failed = record_failed(
            ids=exhausted,
            error=f"gave up after {settings.EMAIL_OUTBOX_MAX_ATTEMPTS} attempts: {error}",
            lease_until=lease_until,
        )
    rest = [pk for pk in ids if pk not in set(exhausted)]
    if not rest:
        return [], failed
    attempts = max(
        Message.objects.filter(pk__in=rest).values_list("attempts", flat=True),
        default=1,
    )
    delay = backoff_seconds(attempts, retry_after)
    retried = _transition(
        rest,
        from_statuses=[Status.SENDING],
        to=Status.QUEUED,
        now=now,
        detail=f"retry in {delay:.0f} s: {error}",
        only=only or None,
        last_error=error,
        lease_until=None,
        request_started_at=None,
        next_attempt_at=now + timedelta(seconds=delay),
    )
    if retried and delay <= 60:
        # A short wait is a countdown (far below Redis's visibility timeout); longer
        # ones are left to the sweep.
        schedule_sending(countdown=delay)
    return retried, failed


def record_ambiguous(
    *, ids: list[int], error: str, lease_until: datetime | None = None
) -> list[int]:
    """The request left and no answer came: wait for a SendGrid event before
    deciding (resolve_ambiguous). Rows SendGrid has already reported on are sent."""
    now = timezone.now()
    only = Q(lease_until=lease_until) if lease_until else None
    proven = _record_proven(ids, now=now, only=only)
    ids = [pk for pk in ids if pk not in set(proven)]
    return _transition(
        ids,
        from_statuses=[Status.SENDING],
        to=Status.AMBIGUOUS,
        now=now,
        detail=error,
        only=Q(lease_until=lease_until) if lease_until else None,
        strict=lease_until is None,
        last_error=error,
        lease_until=None,
        next_attempt_at=now
        + timedelta(seconds=settings.EMAIL_OUTBOX_AMBIGUOUS_RESEND_AFTER_SECONDS),
    )


def _record_proven(ids: list[int], *, now: datetime, only: Q | None) -> list[int]:
    """`sending` rows SendGrid has already reported an event for: sent (then failed,
    for a bounce or drop). Any event carrying our id proves it accepted a request
    for the row; it can arrive while the row is still `sending` (the worker died,
    or its request timed out, after SendGrid took it), and must not leave the row
    ambiguous, to be sent once more. Returns the ids moved to sent."""
    accepted = list(
        MessageEvent.objects.filter(message_id__in=ids)
        .exclude(kind=EventKind.STATUS)
        .values_list("message_id", flat=True)
        .distinct()
    )
    moved = _transition(
        accepted,
        from_statuses=[Status.SENDING],
        to=Status.SENT,
        now=now,
        detail="SendGrid reported on it: accepted",
        only=only,
        lease_until=None,
        sent_at=now,
        last_error="",
        next_attempt_at=None,
    )
    lost = list(
        MessageEvent.objects.filter(
            message_id__in=moved, kind__in=[EventKind.BOUNCE, EventKind.DROPPED]
        )
        .values_list("message_id", flat=True)
        .distinct()
    )
    _transition(
        lost,
        from_statuses=[Status.SENT],
        to=Status.FAILED,
        now=now,
        detail="bounced or dropped at SendGrid",
        last_error="bounced or dropped at SendGrid",
    )
    return moved


def expire_leases(*, now: datetime | None = None) -> tuple[list[int], list[int]]:
    """Rows whose worker died: those whose request had started are ambiguous, the
    others go back to the queue (or fail after their attempts). Returns
    (requeued, ambiguous)."""
    now = now or timezone.now()
    expired = Q(status=Status.SENDING, lease_until__lt=now)
    started = list(
        Message.objects.filter(expired, request_started_at__isnull=False).values_list(
            "pk", flat=True
        )
    )
    proven = set(_record_proven(started, now=now, only=Q(lease_until__lt=now)))
    started = [pk for pk in started if pk not in proven]
    ambiguous = _transition(
        started,
        from_statuses=[Status.SENDING],
        to=Status.AMBIGUOUS,
        now=now,
        detail="the worker's lease expired after the request had started",
        only=Q(lease_until__lt=now),
        lease_until=None,
        last_error="worker lost during the request",
        next_attempt_at=now
        + timedelta(seconds=settings.EMAIL_OUTBOX_AMBIGUOUS_RESEND_AFTER_SECONDS),
    )
    waiting = Message.objects.filter(expired, request_started_at__isnull=True)
    exhausted = list(
        waiting.filter(attempts__gte=settings.EMAIL_OUTBOX_MAX_ATTEMPTS).values_list(
            "pk", flat=True
        )
    )
    _transition(
        exhausted,
        from_statuses=[Status.SENDING],
        to=Status.FAILED,
        now=now,
        detail="the worker was lost on every attempt",
        only=Q(lease_until__lt=now),
        lease_until=None,
        last_error="worker lost on every attempt",
        next_attempt_at=None,
    )
    requeued = _transition(
        list(waiting.values_list("pk", flat=True)),
        from_statuses=[Status.SENDING],
        to=Status.QUEUED,
        now=now,
        detail="the worker's lease expired before the request",
        only=Q(lease_until__lt=now),
        lease_until=None,
        next_attempt_at=now,
    )
    return requeued, ambiguous


def resolve_ambiguous(*, now: datetime | None = None) -> tuple[list[int], list[int]]:
    """Ambiguous rows whose wait is over and no event arrived: resend once; a row
    already resent once fails. Returns (resent, failed)."""
    now = now or timezone.now()
    due = Q(status=Status.AMBIGUOUS, next_attempt_at__lte=now)
    first = list(
        Message.objects.filter(due, ambiguous_resends=0).values_list("pk", flat=True)
    )
    again = list(
        Message.objects.filter(due, ambiguous_resends__gt=0).values_list(
            "pk", flat=True
        )
    )
    resent = _transition(
        first,
        from_statuses=[Status.AMBIGUOUS],
        to=Status.QUEUED,
        now=now,
        detail="no event from SendGrid: sending once more",
        only=Q(next_attempt_at__lte=now),
        ambiguous_resends=F("ambiguous_resends") + 1,
        next_attempt_at=now,
    )
    failed = _transition(
        again,
        from_statuses=[Status.AMBIGUOUS],
        to=Status.FAILED,
        now=now,
        detail="no event from SendGrid after the one resend",
        only=Q(next_attempt_at__lte=now),
        last_error="unconfirmed after one resend",
        next_attempt_at=None,
    )
    return resent, failed


def sweep(*, now: datetime | None = None) -> dict[str, int]:
    """The beat's minute: events first (they settle ambiguous rows), then leases,
    then ambiguous rows, then kick the sender if anything is due."""
    now = now or timezone.now()
    events = apply_provider_events()
    requeued, ambiguous = expire_leases(now=now)
    resent, gave_up = resolve_ambiguous(now=now)
    due = Message.objects.filter(
        status=Status.QUEUED, next_attempt_at__lte=now
    ).exists()
    if due:
        schedule_sending()
    return {
        "events": events,
        "requeued": len(requeued),
        "ambiguous": len(ambiguous),
        "resent": len(resent),
        "failed": len(gave_up),
        "due": int(due),
    }


# SendGrid's events -----------------------------------------------------------------


SUPPRESSING_EVENTS = {
    "bounce": SuppressionReason.BOUNCE,
    "spamreport": SuppressionReason.SPAMREPORT,
    "unsubscribe": SuppressionReason.UNSUBSCRIBE,
    "group_unsubscribe": SuppressionReason.UNSUBSCRIBE,
}
FIRST_TIME_FIELDS = {
    "delivered": "delivered_at",
    "open": "opened_at",
    "click": "clicked_at",
    "bounce": "bounced_at",
}


def store_provider_events(*, events: list[dict]) -> list[str]:
    """Keep each event once (SendGrid repeats them); returns the new events' ids.
    An item that is not an event, or holds text the database cannot store (a NUL,
    a lone surrogate), is skipped with a warning: one bad event must not make
    SendGrid retry the whole batch for days."""
    rows = {}
    for event in events:
        if not (isinstance(event, dict) and event.get("sg_event_id")):
            continue
        if unstorable_text_path(event) is not None:
            logger.warning("SendGrid event skipped: text that cannot be stored")
            continue
        rows[str(event["sg_event_id"])[:100]] = event
    with transaction.atomic():
        known = set(
            ProviderEvent.objects.filter(sg_event_id__in=rows).values_list(
                "sg_event_id", flat=True
            )
        )
        ProviderEvent.objects.bulk_create(
            [
                ProviderEvent(sg_event_id=event_id, payload=payload)
                for event_id, payload in rows.items()
                if event_id not in known
            ],
            ignore_conflicts=True,
        )
    return [event_id for event_id in rows if event_id not in known]


def apply_provider_events(
    *, event_ids: list[str] | None = None, limit: int = 1000
) -> int:
    """Apply stored, unprocessed events to their messages and the suppression list.
    Safe to run twice and concurrently: each event is claimed once."""
    applied = 0
    with transaction.atomic():
        pending = ProviderEvent.objects.filter(processed_at__isnull=True)
        if event_ids is not None:
            pending = pending.filter(sg_event_id__in=event_ids)
        events = list(
            pending.order_by("pk").select_for_update(skip_locked=True)[:limit]
        )
        for event in events:
            _apply(event.payload)
            applied += 1
        ProviderEvent.objects.filter(pk__in=[e.pk for e in events]).update(
            processed_at=timezone.now()
        )
    return applied


def _event_time(payload: dict) -> datetime:
    try:
        return datetime.fromtimestamp(int(payload["timestamp"]), tz=UTC)
    except (KeyError, TypeError, ValueError, OverflowError):
        return timezone.now()


def _apply(payload: dict) -> None:
    kind = str(payload.get("event", ""))
    at = _event_time(payload)
    email = str(payload.get("email", "")).strip().lower()
    if kind in SUPPRESSING_EVENTS and email:
        Suppression.objects.get_or_create(
            email=email,
            defaults={"reason": SUPPRESSING_EVENTS[kind], "note": "SendGrid event"},
        )
    message = _message_for(payload)
    if message is None or kind not in EventKind.values or kind == EventKind.STATUS:
        return
    detail = " ".join(
        str(payload[name])
        for name in ("reason", "response", "url", "type")
        if payload.get(name)
    )
    MessageEvent.objects.create(
        message=message, kind=kind, detail=detail[:2000], occurred_at=at
    )
    provider_id = str(payload.get("sg_message_id", "")).split(".")[0]
    if message.status == Status.AMBIGUOUS:
        # Any event carrying our id proves SendGrid accepted the request.
        record_sent(ids=[message.pk], provider_message_id=provider_id)
        message.status = Status.SENT
    elif message.status == Status.QUEUED and message.ambiguous_resends:
        # Late proof for an ambiguous attempt already queued for its resend.
        _transition(
            [message.pk],
            from_statuses=[Status.QUEUED],
            to=Status.SENT,
            now=timezone.now(),
            detail=f"SendGrid's {kind} event arrived: no resend",
            provider_message_id=provider_id[:100],
            sent_at=at,
            next_attempt_at=None,
            last_error="",
        )
        message.status = Status.SENT
    column = FIRST_TIME_FIELDS.get(kind)
    if column:
        Message.objects.filter(pk=message.pk, **{f"{column}__isnull": True}).update(
            **{column: at}
        )
    if kind in {"bounce", "dropped"} and message.status == Status.SENT:
        _transition(
            [message.pk],
            from_statuses=[Status.SENT],
            to=Status.FAILED,
            now=at,
            detail=f"{kind}: {detail}",
            last_error=f"{kind}: {detail}"[:2000],
        )


def _message_for(payload: dict) -> Message | None:
    try:
        pk = int(payload.get("outbox_id", ""))
    except (TypeError, ValueError):
        return None
    message = Message.objects.select_for_update().filter(pk=pk).first()
    # The key must match too: an id alone could be forged or from another install.
    if message is None or message.key != payload.get("outbox_key"):
        return None
    return message


# Suppressions and consent -----------------------------------------------------------


def add_suppression(
    *, email: str, reason: str = SuppressionReason.MANUAL, note: str = ""
) -> Suppression:
    suppression, _ = Suppression.objects.get_or_create(
        email=email.strip().lower(), defaults={"reason": reason, "note": note}
    )
    return suppression


def remove_suppression(*, email: str) -> int:
    deleted, _ = Suppression.objects.filter(email=email.strip().lower()).delete()
    return deleted


@transaction.atomic
def set_marketing_consent(
    *, customer_id: int, consent: bool, source: str = ConsentSource.EMAIL_LINK
) -> Customer:
    """Record the customer's choice (with when and how) if it changes anything.
    Unsubscribing also lifts nothing else: service mail keeps coming."""
    customer = Customer.objects.select_for_update().get(pk=customer_id)
    if customer.marketing_consent != consent:
        customer.marketing_consent = consent
        customer.marketing_consent_at = timezone.now()
        customer.marketing_consent_source = source
        customer.save(
            update_fields=[
                "marketing_consent",
                "marketing_consent_at",
                "marketing_consent_source",
                "updated_at",
            ]
        )
    if consent:
        Suppression.objects.filter(
            email=customer.email, reason=SuppressionReason.UNSUBSCRIBE
        ).delete()
    return customer


def send_test_email(*, to_email: str, template: str, requested_by: str) -> Message:
    """Staff's "send test e-mail": a service message with sample context."""
    stamp = timezone.now().strftime("%Y%m%dT%H%M%S.%f")
    return enqueue(
        key=f"test:{template}:{to_email.strip().lower()}:{stamp}",
        to_email=to_email,
        template=template,
        context={"first_name": requested_by, "test": True},
        sender_label="admin:test",
        category=Category.SERVICE,
    )
