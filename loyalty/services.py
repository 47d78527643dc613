"""Every write to the points and store-credit ledgers, rewards and coupons.

The rules (docs/adr/0003-points-ledger.md):

- An entry and the balance change it causes are written in one transaction, holding
  a lock on the account row (`SELECT ... FOR UPDATE`). Each service locks one account,
  so no two services wait on each other in opposite orders.
- Every entry has a unique key. A call with a key already in the ledger returns the
  entry written the first time and changes nothing; a concurrent call with the same key
  waits on the account lock and then finds it, and the unique index catches the rest.
- A balance never goes below zero: the services refuse first (InsufficientPoints), and
  a check constraint refuses what slips past them.
- Points expire after N months without earning, redeeming or a staff top-up (the
  whole balance at once).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal

from dateutil.relativedelta import relativedelta
from django import urls
from django.db import connection, transaction
from django.db.models import CharField, Exists, F, OuterRef, Value
from django.db.models.functions import Cast, Concat
from django.utils import formats, timezone, translation
from django.utils.translation import gettext_lazy as _

from emails import services as outbox
from emails.models import Category as EmailCategory
from emails.rendering import site_url
from loyalty.models import (
    Coupon,
    CouponKind,
    CouponRedemption,
    EntryKind,
    ExpiryReminder,
    LoyaltySettings,
    PointsAccount,
    PointsEntry,
    Reward,
    RewardKind,
    StoreCreditAccount,
    StoreCreditEntry,
    StoreCreditKind,
)
from loyalty.queries import earning_multiplier
from loyalty.signals import kept_order_deductions
from shop.models import Customer, Order

# 31 characters nobody confuses on a receipt (no 0/O, 1/I/L); 12 of them = 59 bits.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12
# How far back the daily scan looks for orders whose return window has closed.
KEPT_ORDER_SCAN_DAYS = 90
# shop.privacy.erased_email gives erased customers an address in the reserved
# .invalid domain: nobody to write to.
ERASED_EMAIL_SUFFIX = "@invalid"
EXPIRY_REMINDER_TEMPLATE = "points_expiry"
EXPIRY_REMINDER_SENDER = "loyalty:points-expiry"


class LoyaltyError(Exception):
    """A refusal; `code` names the reason for API clients."""

    code = "loyalty_error"
    message = _("The request was refused.")

    def __init__(self, message=None):
        super().__init__(str(message or self.message))


class InsufficientPoints(LoyaltyError):
    code = "insufficient_points"
    message = _("Not enough points.")


class RewardUnavailable(LoyaltyError):
    code = "reward_unavailable"
    message = _("This reward is not available.")


class ReasonRequired(LoyaltyError):
    code = "reason_required"
    message = _("Give a reason.")


class KeyConflict(LoyaltyError):
    code = "key_conflict"
    message = _("This key was used for another account.")


class UnknownCoupon(LoyaltyError):
    code = "unknown"
    message = _("There is no coupon with this code.")


class CouponExpired(LoyaltyError):
    code = "expired"
    message = _("This coupon has expired.")


class CouponAlreadyUsed(LoyaltyError):
    code = "already_used"
    message = _("This coupon has already been used on another order.")


class WrongCurrency(LoyaltyError):
    code = "wrong_currency"
    message = _("This coupon is in another currency.")


class InsufficientCredit(LoyaltyError):
    code = "insufficient_value"
    message = _("The amount is more than the coupon has left.")


class AmountRequired(LoyaltyError):
    code = "amount_required"
    message = _("Give the amount to take from the store credit.")


class NotRedeemed(LoyaltyError):
    code = "not_redeemed"
    message = _("This coupon was not redeemed on that order.")


# Points -------------------------------------------------------------------------------


def _lock_account(customer: Customer) -> PointsAccount:
    """The customer's account, created if missing, locked until the transaction ends."""
    account, _created = PointsAccount.objects.select_for_update().get_or_create(
        customer=customer
    )
    return account


def _existing(key: str, account: PointsAccount) -> PointsEntry | None:
    entry = PointsEntry.objects.filter(key=key).first()
    if entry is not None and entry.account_id != account.pk:
        raise KeyConflict()
    return entry


def _expiry_months() -> int:
    return LoyaltySettings.load().expiry_months


def _insert_entry(**values) -> PointsEntry | None:
    """INSERT ... ON CONFLICT (key) DO NOTHING: the new entry, or None when the key
    exists. One statement, and no savepoint needed to survive a duplicate key, which
    keeps award_points within a few round trips of a plain INSERT (bench/ledger.py).
    A concurrent insert of the same key waits on the unique index, then does nothing.
    """
    entry = PointsEntry(**values)
    columns = [
        "account_id",
        "amount",
        "kind",
        "reason",
        "key",
        "created_by_id",
        "created_at",
    ]
    params = [getattr(entry, column) for column in columns]
    params[-1] = connection.ops.adapt_datetimefield_value(entry.created_at)
    sql = (
        f"INSERT INTO {PointsEntry._meta.db_table} ({', '.join(columns)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(columns))}) "
        "ON CONFLICT (key) DO NOTHING RETURNING id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    entry.pk = row[0]
    entry._state.adding = False
    entry._state.db = connection.alias
    return entry


def _write_entry(
    account: PointsAccount,
    *,
    amount: int,
    kind: str,
    reason: str,
    key: str,
    by=None,
    now: datetime,
) -> PointsEntry:
    """Insert the entry and move the locked account's balance in the same transaction.

    Activity (earning, redeeming, or staff adding points) moves the balance's expiry
    date to `expiry_months` after now; taking points away (staff, reversal, expiry)
    does not.
    """
    entry = _insert_entry(
        account=account,
        amount=amount,
        kind=kind,
        reason=reason[:255],
        key=key,
        created_by=by,
        created_at=now,
    )
    if entry is None:  # the key is in the ledger already
        existing = PointsEntry.objects.get(key=key)
        if existing.account_id != account.pk:
            raise KeyConflict()
        return existing
    changes = {"balance": F("balance") + amount}
    account.balance += amount
    if amount > 0 or kind == EntryKind.REDEEM:
        months = _expiry_months()
        account.last_activity_at = now
        account.expires_at = now + relativedelta(months=months) if months else None
        changes |= {
            "last_activity_at": account.last_activity_at,
            "expires_at": account.expires_at,
        }
    PointsAccount.objects.filter(pk=account.pk).update(**changes)
    return entry


AWARD_SQL = """
WITH rules AS (
    SELECT COALESCE(
        (SELECT expiry_months FROM loyalty_loyaltysettings ORDER BY id LIMIT 1),
        %(default_months)s
    ) AS months
), entry AS (
    INSERT INTO loyalty_pointsentry
        (account_id, amount, kind, reason, key, created_by_id, created_at)
    SELECT id, %(points)s, 'earn', %(reason)s, %(key)s, NULL, %(now)s
    FROM loyalty_pointsaccount WHERE customer_id = %(customer)s
    ON CONFLICT (key) DO NOTHING
    RETURNING id, account_id
)
UPDATE loyalty_pointsaccount AS account
SET balance = account.balance + %(points)s,
    last_activity_at = %(now)s,
    expires_at = CASE WHEN rules.months > 0
        THEN %(now)s + make_interval(months => rules.months) END
FROM entry, rules
WHERE account.id = entry.account_id
RETURNING entry.id, entry.account_id
"""


def _award_in_one_statement(
    *, customer: Customer, points: int, key: str, reason: str, now: datetime
) -> PointsEntry | None:
    """The common case of award_points on PostgreSQL, in one statement: insert the
    entry unless its key exists and add the points to the account's balance, the
    UPDATE holding the account's row lock. Returns None, having changed nothing,
    when the account does not exist yet or the key does; the caller then takes the
    general path. (bench/ledger.py: this keeps award_points near a plain INSERT.)
    """
    params = {
        "default_months": LoyaltySettings._meta.get_field("expiry_months").default,
        "points": points,
        "reason": reason[:255],
        "key": key,
        "now": now,
        "customer": customer.pk,
    }
    with connection.cursor() as cursor:
        cursor.execute(AWARD_SQL, params)
        row = cursor.fetchone()
    if row is None:
        return None
    entry = PointsEntry(
        pk=row[0],
        account_id=row[1],
        amount=points,
        kind=EntryKind.EARN,
        reason=reason[:255],
        key=key,
        created_at=now,
    )
    entry._state.adding = False
    entry._state.db = connection.alias
    return entry


@transaction.atomic
def award_points(
    *,
    customer: Customer,
    points: int,
    key: str,
    reason: str,
    now: datetime | None = None,
) -> PointsEntry:
    """Give the customer points once per key; a repeat returns the first entry."""
    if points <= 0:
        raise ValueError("award_points needs a positive number of points")
    now = now or timezone.now()
    if connection.vendor == "postgresql":
        entry = _award_in_one_statement(
            customer=customer, points=points, key=key, reason=reason, now=now
        )
        if entry is not None:
            return entry
    # No account yet, a key seen before, or not PostgreSQL: lock and look.
    account = _lock_account(customer)
    return _write_entry(
        account,
        amount=points,
        kind=EntryKind.EARN,
        reason=reason,
        key=key,
        now=now,
    )


@transaction.atomic
def adjust(
    *,
    customer: Customer,
    points: int,
    reason: str,
    by,
    key: str | None = None,
    now: datetime | None = None,
) -> PointsEntry:
    """A staff correction (+ or -), with who and why. Refuses to overdraw.

    The admin form passes a key made when the form was shown, so a double submit
    writes one entry.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    if points == 0:
        raise ValueError("adjust needs a non-zero number of points")
    account = _lock_account(customer)
    key = key or f"adjust:{uuid.uuid4().hex}"
    if (entry := _existing(key, account)) is not None:
        return entry
    if account.balance + points < 0:
        raise InsufficientPoints(
            _("The balance is %(balance)d points; it cannot go below zero.")
            % {"balance": account.balance}
        )
    return _write_entry(
        account,
        amount=points,
        kind=EntryKind.ADJUST,
        reason=reason,
        key=key,
        by=by,
        now=now or timezone.now(),
    )


@transaction.atomic
def reverse(
    *, key: str, reason: str, now: datetime | None = None
) -> PointsEntry | None:
    """Take back the points of an earning entry (e.g. a review removed after approval).

    Points already spent are not clawed back: the reversal takes at most the current
    balance, so it never goes below zero (it may be for 0 points). Returns None when
    nothing was ever given for `key`; a second call returns the first reversal.
    """
    original = PointsEntry.objects.filter(key=key).first()
    if original is None:
        return None
    if original.amount <= 0:
        raise ValueError("only an entry that gave points can be reversed")
    account = PointsAccount.objects.select_for_update().get(pk=original.account_id)
    reversal_key = f"reversal:{key}"
    if (entry := _existing(reversal_key, account)) is not None:
        return entry
    return _write_entry(
        account,
        amount=-min(original.amount, account.balance),
        kind=EntryKind.REVERSAL,
        reason=reason,
        key=reversal_key,
        now=now or timezone.now(),
    )


def new_coupon_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(code: str) -> str:
    return "".join(code.split()).replace("-", "").upper()


@transaction.atomic
def redeem(
    *,
    customer: Customer,
    reward: Reward,
    key: str | None = None,
    now: datetime | None = None,
) -> Coupon:
    """Spend the reward's points on a coupon. With a key, a repeat returns the coupon
    issued the first time."""
    now = now or timezone.now()
    account = _lock_account(customer)
    if key and (entry := _existing(key, account)) is not None:
        return entry.coupon
    reward = Reward.objects.get(pk=reward.pk)
    if not reward.active:
        raise RewardUnavailable()
    if (
        reward.per_customer_limit
        and Coupon.objects.filter(customer=customer, reward=reward).count()
        >= reward.per_customer_limit
    ):
        raise RewardUnavailable(_("You have had this reward as often as allowed."))
    if account.balance < reward.points_cost:
        raise InsufficientPoints()
    code = new_coupon_code()
    entry = _write_entry(
        account,
        amount=-reward.points_cost,
        kind=EntryKind.REDEEM,
        reason=f"Reward: {reward.name}",
        key=key or f"redeem:{code}",
        now=now,
    )
    return Coupon.objects.create(
        code=code,
        kind=reward.kind,
        customer=customer,
        reward=reward,
        points_entry=entry,
        value=Decimal("0.00")
        if reward.kind == RewardKind.FREE_SHIPPING
        else reward.value,
        currency=reward.currency if reward.kind == RewardKind.FIXED_AMOUNT else "",
        expires_at=now + relativedelta(days=reward.coupon_valid_days),
        created_at=now,
    )


def expire_due(*, now: datetime) -> int:
    """Expire every balance whose expiry date has passed; returns how many. Each
    account in its own transaction, so the scan can be rerun after a failure."""
    expired = 0
    due = (
        PointsAccount.objects.filter(expires_at__lte=now, balance__gt=0)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for pk in due:
        with transaction.atomic():
            account = PointsAccount.objects.select_for_update().get(pk=pk)
            if (
                account.balance <= 0
                or not account.expires_at
                or account.expires_at > now
            ):
                continue  # activity or a redemption since the scan began
            _write_entry(
                account,
                amount=-account.balance,
                kind=EntryKind.EXPIRE,
                reason=f"No activity since {account.last_activity_at:%Y-%m-%d}",
                key=f"expire:{pk}:{account.expires_at.isoformat()}",
                now=now,
            )
            expired += 1
    return expired


@transaction.atomic
def record_expiry_reminders(*, now: datetime) -> int:
    """Record a reminder for each balance expiring within the reminder period, once
    per account and expiry date, and hand it to the e-mail outbox in the same
    transaction (enqueue_expiry_reminders); returns how many were new."""
    days = LoyaltySettings.load().reminder_days
    due = (
        PointsAccount.objects.filter(
            balance__gt=0,
            expires_at__gt=now,
            expires_at__lte=now + relativedelta(days=days),
        )
        .exclude(customer__email__endswith=ERASED_EMAIL_SUFFIX)
        .exclude(
            Exists(
                ExpiryReminder.objects.filter(
                    account=OuterRef("pk"), expires_on=OuterRef("expires_at__date")
                )
            )
        )
    )
    reminders = [
        ExpiryReminder(
            account_id=account.pk,
            expires_on=account.expires_at.date(),
            points=account.balance,
            created_at=now,
        )
        for account in due
    ]
    ExpiryReminder.objects.bulk_create(reminders, ignore_conflicts=True)
    enqueue_expiry_reminders(now=now)
    return len(reminders)


@transaction.atomic
def enqueue_expiry_reminders(*, now: datetime) -> list[ExpiryReminder]:
    """Write an e-mail to the outbox for every unsent reminder whose expiry still
    stands (the balance is still there and no activity has moved the date on), and
    mark it sent. A service message, keyed `points-expiry:<reminder id>`: running
    this twice, or concurrently, writes one message. Returns the reminders sent."""
    candidates = (
        ExpiryReminder.objects.filter(
            sent_at__isnull=True,
            expires_on__gte=now.date(),
            account__balance__gt=0,
            account__expires_at__gt=now,
        )
        .exclude(account__customer__email__endswith=ERASED_EMAIL_SUFFIX)
        .select_related("account__customer")
        .select_for_update(of=("self",))
        .order_by("pk")
    )
    sent = [
        reminder
        for reminder in candidates
        if reminder.account.expires_at.date() == reminder.expires_on
    ]
    for reminder in sent:
        _enqueue_expiry_email(reminder)
        reminder.sent_at = now
    ExpiryReminder.objects.filter(pk__in=[r.pk for r in sent]).update(sent_at=now)
    return sent


def _enqueue_expiry_email(reminder: ExpiryReminder) -> None:
    account = reminder.account
    customer = account.customer
    with translation.override(customer.language):
        # The customer's own date format and language prefix (/nl/points/).
        expires_on_display = formats.date_format(reminder.expires_on, "DATE_FORMAT")
        my_points_url = site_url(urls.reverse("loyalty:my_points"))
    outbox.enqueue(
        key=f"points-expiry:{reminder.pk}",
        to_email=customer.email,
        customer=customer,
        category=EmailCategory.SERVICE,
        language=customer.language,
        sender_label=EXPIRY_REMINDER_SENDER,
        template=EXPIRY_REMINDER_TEMPLATE,
        context={
            "first_name": customer.first_name,
            "points": account.balance,
            "expires_on": reminder.expires_on.isoformat(),
            "expires_on_display": expires_on_display,
            "my_points_url": my_points_url,
        },
    )


# Earning rules ------------------------------------------------------------------------


def _floor(points: Decimal | int) -> int:
    return int(Decimal(points).to_integral_value(rounding=ROUND_FLOOR))


def _multiplied(points: Decimal | int, customer: Customer, now: datetime) -> int:
    account = PointsAccount.objects.filter(customer=customer).first()
    multiplier = earning_multiplier(account, now=now) if account else Decimal(1)
    return _floor(Decimal(points) * multiplier)


@dataclass(frozen=True)
class ReviewPoints:
    """What an approved review earned: the base points (key `review:<id>`) and the
    photo bonus (key `review-photo:<id>`), each None when nothing was given."""

    base: PointsEntry | None
    photo: PointsEntry | None

    @property
    def total(self) -> int:
        return sum(entry.amount for entry in (self.base, self.photo) if entry)


def review_points_offer(*, customer: Customer | None, now: datetime | None = None):
    """(base, photo bonus) a review by this customer earns once approved, whatever
    its rating: what "Review your purchases" promises."""
    now = now or timezone.now()
    rules = LoyaltySettings.load()
    account = (
        PointsAccount.objects.filter(customer=customer).first() if customer else None
    )
    multiplier = earning_multiplier(account, now=now) if account else Decimal(1)
    return (
        _floor(rules.points_per_review * multiplier),
        _floor(rules.photo_bonus * multiplier),
    )


@transaction.atomic
def award_review_points(
    *, customer: Customer, review_id: int, has_photo: bool, now: datetime | None = None
) -> ReviewPoints:
    """Points for an approved review, whatever its rating: the base points once per
    review and, when it has a photo, the photo bonus once per review. Approving again
    (after an edit that added a photo, say) gives only what was not given before."""
    now = now or timezone.now()
    rules = LoyaltySettings.load()
    account = PointsAccount.objects.filter(customer=customer).first()
    multiplier = earning_multiplier(account, now=now) if account else Decimal(1)
    base = _floor(rules.points_per_review * multiplier)
    base_entry = photo_entry = None
    if base > 0:
        base_entry = award_points(
            customer=customer,
            points=base,
            key=f"review:{review_id}",
            reason=f"Review #{review_id} approved",
            now=now,
        )
    bonus = _floor(rules.photo_bonus * multiplier) if has_photo else 0
    if bonus > 0:
        photo_entry = award_points(
            customer=customer,
            points=bonus,
            key=f"review-photo:{review_id}",
            reason=f"Photo with review #{review_id}",
            now=now,
        )
    return ReviewPoints(base=base_entry, photo=photo_entry)


@transaction.atomic
def reverse_review_points(
    *, review_id: int, reason: str, now: datetime | None = None
) -> list[PointsEntry]:
    """Take back what review_points gave (base and photo bonus) with new ledger
    entries; a second call returns the same reversals."""
    now = now or timezone.now()
    reversals = (
        reverse(key=f"{prefix}:{review_id}", reason=reason, now=now)
        for prefix in ("review", "review-photo")
    )
    return [entry for entry in reversals if entry is not None]


def kept_total(order: Order) -> Decimal:
    """What the customer kept of the order: its total minus what apps above answer to
    `kept_order_deductions` (returns: the value refunded or credited), never below 0."""
    deductions = sum(
        (
            Decimal(answer)
            for _receiver, answer in kept_order_deductions.send(
                sender=Order, order=order
            )
            if answer
        ),
        Decimal("0.00"),
    )
    return max(order.total - deductions, Decimal("0.00"))


def award_kept_order_points(*, order: Order, now: datetime) -> PointsEntry | None:
    """Points per euro kept, once the return window has closed; once per order."""
    rules = LoyaltySettings.load()
    if not rules.points_per_euro or order.currency != "EUR" or not order.delivered_at:
        return None
    if order.delivered_at + relativedelta(days=rules.return_window_days) > now:
        return None
    euros = kept_total(order).to_integral_value(rounding=ROUND_FLOOR)
    points = _multiplied(euros * rules.points_per_euro, order.customer, now)
    if points <= 0:
        return None
    return award_points(
        customer=order.customer,
        points=points,
        key=f"order:{order.pk}",
        reason=f"Order {order.number} kept",
        now=now,
    )


def award_points_for_kept_orders(*, now: datetime) -> int:
    """The daily scan: every EUR order whose return window closed in the last
    KEPT_ORDER_SCAN_DAYS days and has no points yet. Returns how many were awarded."""
    rules = LoyaltySettings.load()
    if not rules.points_per_euro:
        return 0
    closed_before = now - relativedelta(days=rules.return_window_days)
    orders = (
        Order.objects.filter(
            currency="EUR",
            delivered_at__lte=closed_before,
            delivered_at__gt=closed_before - relativedelta(days=KEPT_ORDER_SCAN_DAYS),
        )
        .exclude(
            Exists(
                PointsEntry.objects.filter(
                    key=Concat(
                        Value("order:"),
                        Cast(OuterRef("pk"), CharField()),
                        output_field=CharField(),
                    )
                )
            )
        )
        .select_related("customer")
        .order_by("pk")
    )
    return sum(
        1
        for order in orders.iterator(chunk_size=500)
        if award_kept_order_points(order=order, now=now) is not None
    )


# Store credit -------------------------------------------------------------------------


@transaction.atomic
def credit_store(
    *,
    customer: Customer,
    amount: Decimal,
    currency: str,
    key: str,
    reason: str,
    by=None,
    now: datetime | None = None,
) -> StoreCreditEntry:
    """Add money to the customer's store credit (e.g. a refund as credit); once per
    key. The account's coupon, created with it, lets the shop spend it."""
    if amount <= 0:
        raise ValueError("credit_store needs a positive amount")
    now = now or timezone.now()
    currency = currency.upper()
    account, created = StoreCreditAccount.objects.select_for_update().get_or_create(
        customer=customer, currency=currency, defaults={"created_at": now}
    )
    if created:
        Coupon.objects.create(
            code=new_coupon_code(),
            kind=CouponKind.STORE_CREDIT,
            customer=customer,
            store_credit_account=account,
            currency=currency,
            created_at=now,
        )
    entry = StoreCreditEntry.objects.filter(key=key).first()
    if entry is not None:
        if entry.account_id != account.pk:
            raise KeyConflict()
        return entry
    return _write_credit(
        account,
        amount=amount,
        kind=StoreCreditKind.CREDIT,
        reason=reason,
        key=key,
        by=by,
        now=now,
    )


def _write_credit(account, *, amount, kind, reason, key, by=None, now):
    entry = StoreCreditEntry.objects.create(
        account=account,
        amount=amount,
        kind=kind,
        reason=reason[:255],
        key=key,
        created_by=by,
        created_at=now,
    )
    StoreCreditAccount.objects.filter(pk=account.pk).update(
        balance=F("balance") + amount
    )
    account.balance += amount
    return entry


# Coupons as the shop uses them ----------------------------------------------------------


def _lock_coupon(code: str) -> Coupon:
    coupon = (
        Coupon.objects.select_for_update().filter(code=normalise_code(code)).first()
    )
    if coupon is None:
        raise UnknownCoupon()
    return coupon


@transaction.atomic
def redeem_coupon(
    *,
    code: str,
    order_external_id: str,
    currency: str,
    amount: Decimal | None = None,
    now: datetime | None = None,
) -> CouponRedemption:
    """Use the coupon on the shop's order. Asking again for the same order returns
    the first redemption. A store-credit coupon needs `amount` and takes it off the
    balance; a points coupon is used once (amount defaults to its value)."""
    now = now or timezone.now()
    coupon = _lock_coupon(code)
    redemption = coupon.redemptions.filter(order_external_id=order_external_id).first()
    if redemption is not None and redemption.released_at is None:
        return redemption
    if coupon.expires_at and coupon.expires_at <= now:
        raise CouponExpired()
    currency = currency.upper()
    if coupon.currency and currency != coupon.currency:
        raise WrongCurrency(
            _("This coupon is in %(currency)s.") % {"currency": coupon.currency}
        )
    if coupon.is_single_use:
        if coupon.redemptions.filter(released_at__isnull=True).exists():
            raise CouponAlreadyUsed()
        if coupon.kind == CouponKind.FIXED_AMOUNT:
            amount = coupon.value if amount is None else amount
            if amount > coupon.value:
                raise InsufficientCredit()
        amount = amount or Decimal("0.00")
    else:
        if not amount or amount <= 0:
            raise AmountRequired()
        account = StoreCreditAccount.objects.select_for_update().get(
            pk=coupon.store_credit_account_id
        )
        if amount > account.balance:
            raise InsufficientCredit(
                _("The store credit has %(balance)s %(currency)s left.")
                % {"balance": account.balance, "currency": account.currency}
            )
    if redemption is None:
        redemption = CouponRedemption.objects.create(
            coupon=coupon,
            order_external_id=order_external_id,
            amount=amount,
            currency=currency,
            single_use=coupon.is_single_use,
            redeemed_at=now,
        )
    else:  # released when the order was cancelled, now used on it again
        redemption.amount, redemption.currency = amount, currency
        redemption.redeemed_at, redemption.released_at = now, None
        redemption.save(
            update_fields=["amount", "currency", "redeemed_at", "released_at"]
        )
    if not coupon.is_single_use:
        _write_credit(
            account,
            amount=-amount,
            kind=StoreCreditKind.SPEND,
            reason=f"Order {order_external_id}",
            key=f"spend:{redemption.pk}:{now.isoformat()}",
            now=now,
        )
    return redemption


@transaction.atomic
def release_coupon(
    *, code: str, order_external_id: str, now: datetime | None = None
) -> CouponRedemption:
    """The order was cancelled: the coupon can be used again (store credit is paid
    back). Releasing twice changes nothing."""
    now = now or timezone.now()
    coupon = _lock_coupon(code)
    redemption = coupon.redemptions.filter(order_external_id=order_external_id).first()
    if redemption is None:
        raise NotRedeemed()
    if redemption.released_at is not None:
        return redemption
    spent_at = redemption.redeemed_at
    redemption.released_at = now
    redemption.save(update_fields=["released_at"])
    if not coupon.is_single_use:
        account = StoreCreditAccount.objects.select_for_update().get(
            pk=coupon.store_credit_account_id
        )
        _write_credit(
            account,
            amount=redemption.amount,
            kind=StoreCreditKind.RELEASE,
            reason=f"Order {order_external_id} cancelled",
            key=f"release:{redemption.pk}:{spent_at.isoformat()}",
            now=now,
        )
    return redemption
