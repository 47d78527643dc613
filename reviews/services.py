"""Every write to reviews: submit, edit, withdraw, moderate, reply, vote.

A review is a small state machine (TRANSITIONS below); each service makes one move,
refuses an illegal one with a ReviewError, and writes a ReviewEvent row for it.

- Approval awards points through loyalty (keys `review:<id>` and `review-photo:<id>`),
  whatever the rating; the review row is locked first (`SELECT ... FOR UPDATE`), so
  two moderators approving at once write one event and one award, and the ledger's
  unique keys catch anything else.
- Removal (after approval, for breaking the rules) reverses those points with new
  ledger entries.
- Clean reviews (no automatic flag) are approved at once when ReviewSettings says so;
  the rating never decides anything here.
- Submissions and helpful votes are rate limited per customer / voter in the cache.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.photos import PhotoRejected, ProcessedPhoto, process_photo
from loyalty import services as loyalty
from reviews import cache as review_cache
from reviews.checks import flags_for
from reviews.models import (
    HelpfulVote,
    Review,
    ReviewEvent,
    ReviewPhoto,
    ReviewSettings,
    ReviewStatus,
)
from shop.models import Customer, Language, OrderLine

S = ReviewStatus
# to_status -> the statuses it may be reached from.
TRANSITIONS: dict[str, set[str]] = {
    S.PENDING: {S.PENDING, S.APPROVED, S.REJECTED, S.WITHDRAWN},  # (re)submit, edit
    S.APPROVED: {S.PENDING},
    S.REJECTED: {S.PENDING},
    S.REMOVED: {S.APPROVED, S.PENDING, S.REJECTED},  # only once published: remove()
    S.WITHDRAWN: {S.PENDING, S.APPROVED, S.REJECTED},
}
MAX_TITLE = 120
MAX_BODY = 5000
RATE_WINDOW_SECONDS = 3600


class ReviewError(Exception):
    """A refusal; `code` names the reason for API clients, the message is for people."""

    code = "review_error"
    message = _("The request was refused.")

    def __init__(self, message=None):
        super().__init__(str(message or self.message))


class NotReviewable(ReviewError):
    code = "not_reviewable"
    message = _("Only the buyer of a delivered order line can review it.")


class AlreadyReviewed(ReviewError):
    code = "already_reviewed"
    message = _("You have already reviewed this purchase.")


class NotYourReview(ReviewError):
    code = "not_your_review"
    message = _("This is not your review.")


class IllegalTransition(ReviewError):
    code = "illegal_transition"
    message = _("This review cannot be changed that way now.")


class InvalidReview(ReviewError):
    code = "invalid"
    message = _("Check the review and try again.")


class ReasonRequired(ReviewError):
    code = "reason_required"
    message = _("Give a reason the customer can read.")


class RateLimited(ReviewError):
    code = "rate_limited"
    message = _("Too many attempts. Please try again later.")


class InvalidPhoto(ReviewError):
    code = "invalid_photo"


# Helpers -------------------------------------------------------------------------------


def _within_rate(*, what: str, who: str, limit: int, now: datetime) -> bool:
    """Count one attempt in this hour's bucket; False once past `limit` (0: no limit).
    Counted in the cache (Redis in production, shared by every worker)."""
    if not limit:
        return True
    bucket = f"reviews:rate:{what}:{who}:{int(now.timestamp()) // RATE_WINDOW_SECONDS}"
    cache.add(bucket, 0, timeout=RATE_WINDOW_SECONDS)
    try:
        count = cache.incr(bucket)
    except ValueError:  # evicted between add and incr
        cache.set(bucket, 1, timeout=RATE_WINDOW_SECONDS)
        count = 1
    return count <= limit


def _move(review: Review, to: str, *, by=None, note: str = "", now: datetime) -> None:
    """Change the status in memory and write the event; the caller saves the row."""
    if review.status not in TRANSITIONS[to]:
        raise IllegalTransition()
    ReviewEvent.objects.create(
        review=review,
        from_status=review.status,
        to_status=to,
        by=_staff(by),
        note=note,
        occurred_at=now,
    )
    review.status = to


def _staff(by):
    """The user who acted, or None for the system (auto-approval)."""
    return by if by is not None and by.is_authenticated else None


def _purge_on_commit(product_id: int) -> None:
    transaction.on_commit(lambda: review_cache.purge_product(product_id))


def _clean_text(*, rating, title: str, body: str, language: str) -> tuple[str, str]:
    title, body = (title or "").strip(), (body or "").strip()
    if not isinstance(rating, int) or not 1 <= rating <= 5:
        raise InvalidReview(_("Give 1 to 5 stars."))
    if not title or len(title) > MAX_TITLE:
        raise InvalidReview(_("Give a title of at most 120 characters."))
    if not body or len(body) > MAX_BODY:
        raise InvalidReview(_("Write a review of at most 5000 characters."))
    if language not in Language.values:
        raise InvalidReview()
    return title, body


def _processed(photos: Iterable) -> list[ProcessedPhoto]:
    """Decode and clean every upload before any lock is taken (it is slow)."""
    processed = []
    for upload in photos:
        try:
            processed.append(process_photo(upload))
        except PhotoRejected as exc:
            raise InvalidPhoto(exc.message) from exc
    return processed


def _add_photos(
    review: Review, processed: Sequence[ProcessedPhoto], now, *, start: int
) -> None:
    for offset, photo in enumerate(processed):
        row = ReviewPhoto(
            review=review,
            width=photo.width,
            height=photo.height,
            position=start + offset,
            created_at=now,
        )
        row.image.save(photo.image.name, photo.image, save=False)
        row.thumbnail.save(photo.thumbnail.name, photo.thumbnail, save=False)
        row.save()


def _delete_photos(photos: Iterable[ReviewPhoto]) -> None:
    for photo in photos:
        files = (photo.image, photo.thumbnail)
        photo.delete()
        for file in files:
            name, storage = file.name, file.storage
            transaction.on_commit(lambda n=name, s=storage: n and s.delete(n))


def _flags(review: Review, rules: ReviewSettings) -> list[str]:
    return flags_for(
        title=review.title,
        body=review.body,
        product_id=review.product_id,
        exclude_review_id=review.pk,
        min_length=rules.min_body_length,
    )


def _save_and_maybe_approve(review: Review, rules: ReviewSettings, now) -> None:
    """Clean reviews are approved at once when the setting says so (never by rating)."""
    if rules.auto_approve_clean and not review.flags:
        _approve_locked(review, by=None, note="automatic: no flags", now=now)
    else:
        review.save()


# Customer's side ------------------------------------------------------------------------


@transaction.atomic
def submit_review(
    *,
    order_line: OrderLine,
    customer: Customer,
    rating: int,
    title: str,
    body: str,
    language: str,
    may_quote: bool,
    photos: Sequence = (),
    now: datetime | None = None,
) -> Review:
    """The buyer reviews a delivered order line, once. Writing again on a line whose
    review was withdrawn reuses that row. Goes to moderation (or straight to approved
    when clean reviews are auto-approved)."""
    now = now or timezone.now()
    rules = ReviewSettings.load()
    title, body = _clean_text(rating=rating, title=title, body=body, language=language)
    if len(photos) > rules.max_photos:
        raise InvalidReview(
            _("Add at most {count} photos.").format(count=rules.max_photos)
        )
    processed = _processed(photos)  # slow: before any lock is taken
    # Lock the line: two submits for it queue here, the second finds the review.
    line = (
        OrderLine.objects.select_for_update(of=("self",))
        .select_related("order")
        .filter(pk=order_line.pk)
        .first()
    )
    if (
        line is None
        or line.order.customer_id != customer.pk
        or line.order.delivered_at is None
        or line.order.delivered_at > now
    ):
        raise NotReviewable()
    review = Review.objects.filter(order_line=line).first()
    if review is not None and review.status != S.WITHDRAWN:
        raise AlreadyReviewed()
    if not _within_rate(
        what="submit", who=str(customer.pk), limit=rules.submissions_per_hour, now=now
    ):
        raise RateLimited()
    values = {
        "rating": rating,
        "title": title,
        "body": body,
        "language": language,
        "may_quote": bool(may_quote),
        "photo_count": len(processed),  # a withdrawn review's photos were deleted
        "rejection_reason": "",
        "reply_body": "",
        "reply_at": None,
        "reply_by": None,
        "submitted_at": now,
        "updated_at": now,
        "moderated_at": None,
        "moderated_by": None,
    }
    if review is None:
        review = Review(
            order_line=line,
            customer=customer,
            product_id=line.product_id,
            status=S.PENDING,
            created_at=now,
            **values,
        )
        review.flags = _flags(review, rules)
        review.save()
        ReviewEvent.objects.create(
            review=review, from_status="", to_status=S.PENDING, occurred_at=now
        )
    else:
        for field, value in values.items():
            setattr(review, field, value)
        review.flags = _flags(review, rules)
        _move(review, S.PENDING, note="written again", now=now)
        review.save()
    _add_photos(review, processed, now, start=0)
    if rules.auto_approve_clean and not review.flags:
        _approve_locked(review, by=None, note="automatic: no flags", now=now)
    return review


def _own_review(review: Review, customer: Customer) -> Review:
    locked = Review.objects.select_for_update().filter(pk=review.pk).first()
    if locked is None or locked.customer_id != customer.pk:
        raise NotYourReview()
    return locked


@transaction.atomic
def edit_review(
    *,
    review: Review,
    customer: Customer,
    rating: int,
    title: str,
    body: str,
    language: str,
    may_quote: bool,
    photos: Sequence = (),
    remove_photo_ids: Iterable[int] = (),
    now: datetime | None = None,
) -> Review:
    """The author changes their review; it goes back to moderation (it is not public
    until approved again). Points already given stay given, and are not given twice."""
    now = now or timezone.now()
    rules = ReviewSettings.load()
    title, body = _clean_text(rating=rating, title=title, body=body, language=language)
    review = _own_review(review, customer)
    if review.status not in TRANSITIONS[S.PENDING] - {S.WITHDRAWN}:
        raise IllegalTransition()
    removing = list(review.photos.filter(pk__in=list(remove_photo_ids)))
    kept = review.photo_count - len(removing)
    if kept + len(photos) > rules.max_photos:
        raise InvalidReview(
            _("Add at most {count} photos.").format(count=rules.max_photos)
        )
    processed = _processed(photos)
    was_public = review.status == S.APPROVED
    review.rating, review.title, review.body = rating, title, body
    review.language, review.may_quote = language, bool(may_quote)
    review.rejection_reason = ""
    review.updated_at = review.submitted_at = now
    _move(review, S.PENDING, by=None, note="edited by the author", now=now)
    start = max((p.position for p in review.photos.all()), default=-1) + 1
    _delete_photos(removing)
    _add_photos(review, processed, now, start=start)
    review.photo_count = kept + len(processed)
    review.flags = _flags(review, rules)
    _save_and_maybe_approve(review, rules, now)
    if was_public:
        _purge_on_commit(review.product_id)
    return review


@transaction.atomic
def withdraw_review(
    *, review: Review, customer: Customer, now: datetime | None = None
) -> Review:
    """The author deletes their review: it disappears everywhere and its photos are
    deleted. The row stays, so the line never earns twice; writing again reuses it."""
    now = now or timezone.now()
    review = _own_review(review, customer)
    if review.status == S.WITHDRAWN:
        return review
    was_public = review.status == S.APPROVED
    _move(review, S.WITHDRAWN, note="deleted by the author", now=now)
    _delete_photos(list(review.photos.all()))
    review.photo_count = 0
    review.updated_at = now
    review.save()
    if was_public:
        _purge_on_commit(review.product_id)
    return review


def vote_helpful(*, review: Review, voter: str, now: datetime | None = None) -> bool:
    """One "helpful" vote per voter and review (approved reviews only, not one's
    own). Returns True when the vote counted, False when it was there already."""
    now = now or timezone.now()
    if review.status != S.APPROVED:
        raise IllegalTransition()
    user_id = review.customer.user_id
    if user_id is not None and voter == f"user:{user_id}":
        raise ReviewError(_("You cannot vote on your own review."))
    if not _within_rate(
        what="vote", who=voter, limit=ReviewSettings.load().votes_per_hour, now=now
    ):
        raise RateLimited()
    with transaction.atomic():
        try:
            with transaction.atomic():
                HelpfulVote.objects.create(review=review, voter=voter, created_at=now)
        except IntegrityError:
            return False
        Review.objects.filter(pk=review.pk).update(helpful_count=F("helpful_count") + 1)
        _purge_on_commit(review.product_id)
    return True


# Moderation -----------------------------------------------------------------------------


def _lock(review: Review) -> Review:
    return Review.objects.select_for_update().get(pk=review.pk)


def _approve_locked(review: Review, *, by, note: str = "", now: datetime) -> Review:
    _move(review, S.APPROVED, by=by, note=note, now=now)
    points = loyalty.award_review_points(
        customer=review.customer,
        review_id=review.pk,
        has_photo=review.photo_count > 0,
        now=now,
    )
    review.rewarded = review.rewarded or points.total > 0
    review.points_awarded = max(review.points_awarded, points.total)
    review.approved_at = review.approved_at or now
    review.moderated_at = now
    review.moderated_by = _staff(by)
    review.rejection_reason = ""
    review.save()
    _purge_on_commit(review.product_id)
    return review


@transaction.atomic
def approve(*, review: Review, by, now: datetime | None = None) -> Review:
    """Publish the review and award its points, whatever its rating. Approving an
    approved review changes nothing (so a double click or two moderators at once
    give the points once)."""
    now = now or timezone.now()
    review = _lock(review)
    if review.status == S.APPROVED:
        return review
    return _approve_locked(review, by=by, now=now)


@transaction.atomic
def reject(*, review: Review, by, reason: str, now: datetime | None = None) -> Review:
    """Refuse a pending review, with a reason the customer reads in "My reviews"."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    review = _lock(review)
    if review.status == S.REJECTED and review.rejection_reason == reason:
        return review
    if review.status == S.APPROVED:
        raise IllegalTransition(_("This review is published: remove it instead."))
    _move(review, S.REJECTED, by=by, note=reason, now=now)
    review.rejection_reason = reason
    review.moderated_at, review.moderated_by = now, _staff(by)
    review.save()
    return review


@transaction.atomic
def remove(*, review: Review, by, reason: str, now: datetime | None = None) -> Review:
    """Take down a published review for breaking the rules; its points are reversed
    with new ledger entries. Removing twice changes nothing."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    review = _lock(review)
    if review.status == S.REMOVED:
        return review
    if review.approved_at is None:
        raise IllegalTransition(_("This review was never published: reject it."))
    _move(review, S.REMOVED, by=by, note=reason, now=now)
    reversals = loyalty.reverse_review_points(
        review_id=review.pk, reason=f"Review #{review.pk} removed: {reason}", now=now
    )
    review.points_awarded = max(
        0, review.points_awarded + sum(entry.amount for entry in reversals)
    )
    review.rejection_reason = reason
    review.moderated_at, review.moderated_by = now, _staff(by)
    review.save()
    _purge_on_commit(review.product_id)
    return review


@transaction.atomic
def reply(*, review: Review, by, body: str, now: datetime | None = None) -> Review:
    """The shop's public reply (an empty body takes it away)."""
    now = now or timezone.now()
    body = (body or "").strip()
    if len(body) > MAX_BODY:
        raise InvalidReview(_("Write a reply of at most 5000 characters."))
    review = _lock(review)
    if review.status in (S.WITHDRAWN, S.REMOVED):
        raise IllegalTransition()
    review.reply_body = body
    review.reply_at = now if body else None
    review.reply_by = _staff(by) if body else None
    review.save(update_fields=["reply_body", "reply_at", "reply_by"])
    ReviewEvent.objects.create(
        review=review,
        from_status=review.status,
        to_status=review.status,
        by=_staff(by),
        note=f"reply: {body}" if body else "reply taken away",
        occurred_at=now,
    )
    _purge_on_commit(review.product_id)
    return review


# Privacy ---------------------------------------------------------------------------------


@transaction.atomic
def erase_reviews(*, customer: Customer, now: datetime | None = None) -> int:
    """The customer asked to be forgotten: their reviews' words and photos go, and
    each review is withdrawn (the row stays, so the line never earns twice and the
    ledger still adds up). Their helpful votes go too. Returns how many reviews."""
    now = now or timezone.now()
    reviews = list(
        Review.objects.select_for_update().filter(customer=customer).order_by("pk")
    )
    for review in reviews:
        if review.status in TRANSITIONS[S.WITHDRAWN]:
            _move(review, S.WITHDRAWN, note="erased at the customer's request", now=now)
            _purge_on_commit(review.product_id)
        _delete_photos(list(review.photos.all()))
        review.title = review.body = review.reply_body = ""
        review.rejection_reason = ""
        review.flags, review.photo_count, review.updated_at = [], 0, now
        review.save()
    if customer.user_id is not None:
        HelpfulVote.objects.filter(voter=f"user:{customer.user_id}").delete()
    return len(reviews)
