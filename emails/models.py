"""The e-mail outbox: one row per message, its events, suppressions and the raw
events SendGrid posts to us. How a row moves is in services.py; why in
docs/adr/0002-email-outbox.md."""

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from wagtail.contrib.settings.models import BaseGenericSetting, register_setting
from wagtail.fields import StreamField
from wagtail.models import TranslatableMixin

from emails.blocks import EmailContentStreamBlock
from shop.models import Customer, Language


class Category(models.TextChoices):
    SERVICE = "service", _("Service")
    MARKETING = "marketing", _("Marketing")


class Status(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    SUPPRESSED = "suppressed", _("Suppressed")
    AMBIGUOUS = "ambiguous", _("Ambiguous (awaiting SendGrid)")


# Every move a message may make; services.py refuses any other.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.QUEUED: frozenset(
        {
            Status.SENDING,
            Status.SUPPRESSED,
            Status.FAILED,
            # Queued for the one resend after an ambiguous attempt, when SendGrid's
            # event for that attempt arrives late: it was sent, do not resend.
            Status.SENT,
        }
    ),
    Status.SENDING: frozenset(
        {
            Status.SENT,
            Status.QUEUED,  # retry after 429/5xx, or a lease expired before sending
            Status.FAILED,
            Status.SUPPRESSED,
            Status.AMBIGUOUS,
        }
    ),
    # An event from SendGrid proves acceptance; none in time: resend once, or give up.
    Status.AMBIGUOUS: frozenset({Status.SENT, Status.QUEUED, Status.FAILED}),
    # A bounce or drop reported after acceptance.
    Status.SENT: frozenset({Status.FAILED}),
    Status.FAILED: frozenset(),
    Status.SUPPRESSED: frozenset(),
}


class Message(models.Model):
    key = models.CharField(_("key"), max_length=200, unique=True)
    to_email = models.EmailField(_("to"), max_length=254)
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="email_messages",
    )
    category = models.CharField(
        _("category"), max_length=20, choices=Category.choices, default=Category.SERVICE
    )
    sender_label = models.CharField(
        _("sent by"),
        max_length=100,
        help_text=_("Which app or campaign sent it, e.g. returns or campaign:12."),
    )
    template = models.CharField(
        _("template"),
        max_length=200,
        blank=True,
        help_text=_("Empty when the content arrived ready-made (account e-mails)."),
    )
    context = models.JSONField(_("context"), default=dict, blank=True)
    language = models.CharField(
        _("language"), max_length=2, choices=Language.choices, default=Language.ENGLISH
    )
    from_email = models.CharField(_("from"), max_length=254, blank=True)
    reply_to = models.CharField(_("reply to"), max_length=254, blank=True)
    subject = models.CharField(_("subject"), max_length=998, blank=True)
    html = models.TextField(_("HTML part"), blank=True)
    text = models.TextField(_("text part"), blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.QUEUED
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    ambiguous_resends = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    # Set just before the HTTP request of the current attempt: a lease that expires
    # with this set may have reached SendGrid (ambiguous), one without it did not.
    request_started_at = models.DateTimeField(null=True, blank=True)
    provider_message_id = models.CharField(
        _("SendGrid message id"), max_length=100, blank=True
    )
    last_error = models.TextField(_("last error"), blank=True)
    queued_at = models.DateTimeField(_("queued at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    opened_at = models.DateTimeField(_("first opened at"), null=True, blank=True)
    clicked_at = models.DateTimeField(_("first clicked at"), null=True, blank=True)
    bounced_at = models.DateTimeField(_("bounced at"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("e-mail message")
        verbose_name_plural = _("e-mail messages")
        ordering = ["-queued_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(to_email=Lower("to_email")),
                name="email_message_to_lowercase",
            ),
            models.CheckConstraint(
                condition=~Q(status="sending") | Q(lease_until__isnull=False),
                name="email_message_sending_has_lease",
            ),
        ]
        indexes = [
            # The sender's and the sweep's scans.
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=Q(status__in=["queued", "ambiguous"]),
                name="email_message_due",
            ),
            models.Index(
                fields=["lease_until"],
                condition=Q(status="sending"),
                name="email_message_leased",
            ),
            models.Index(fields=["to_email"], name="email_message_to"),
            models.Index(
                fields=["sender_label", "-queued_at"], name="email_message_by"
            ),
        ]

    def __str__(self):
        return f"{self.key} → {self.to_email}"


class EventKind(models.TextChoices):
    STATUS = "status", _("Status change")
    PROCESSED = "processed", _("Processed")
    DEFERRED = "deferred", _("Deferred")
    DELIVERED = "delivered", _("Delivered")
    OPEN = "open", _("Opened")
    CLICK = "click", _("Clicked")
    BOUNCE = "bounce", _("Bounced")
    DROPPED = "dropped", _("Dropped")
    SPAMREPORT = "spamreport", _("Reported as spam")
    UNSUBSCRIBE = "unsubscribe", _("Unsubscribed")
    GROUP_UNSUBSCRIBE = "group_unsubscribe", _("Unsubscribed from group")
    GROUP_RESUBSCRIBE = "group_resubscribe", _("Resubscribed to group")


class MessageEvent(models.Model):
    """A status change of a message, or an event SendGrid reported for it."""

    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="events"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=EventKind.choices)
    from_status = models.CharField(max_length=20, choices=Status.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=Status.choices, blank=True)
    detail = models.TextField(_("detail"), blank=True)
    occurred_at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("e-mail event")
        verbose_name_plural = _("e-mail events")
        ordering = ["occurred_at", "pk"]
        indexes = [models.Index(fields=["message", "occurred_at"])]

    def __str__(self):
        if self.kind == EventKind.STATUS:
            return f"{self.from_status or '∅'} → {self.to_status}"
        return self.get_kind_display()


class SharedPart(models.Model):
    """A piece of ready-made content that many outbox rows use (a campaign's HTML
    shell, one product's block of featured reviews): stored once, named by its
    digest, referred to by id from each row's context ("parts" for the HTML and
    text, lists of ids as substitution values). A campaign of 100,000 e-mails
    writes a few hundred of these instead of 100,000 copies (bench/campaigns.py).
    Never changed once written; kept as long as the rows that name them."""

    digest = models.CharField(max_length=64, unique=True)
    content = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("shared e-mail part")
        verbose_name_plural = _("shared e-mail parts")

    def __str__(self):
        return self.digest[:12]


class SuppressionReason(models.TextChoices):
    BOUNCE = "bounce", _("Bounced")
    SPAMREPORT = "spamreport", _("Reported as spam")
    UNSUBSCRIBE = "unsubscribe", _("Unsubscribed")
    MANUAL = "manual", _("Added by staff")


class Suppression(models.Model):
    """An address that gets no marketing e-mail (service e-mail still goes out)."""

    email = models.EmailField(_("e-mail"), max_length=254, unique=True)
    reason = models.CharField(
        _("reason"),
        max_length=20,
        choices=SuppressionReason.choices,
        default=SuppressionReason.MANUAL,
    )
    note = models.CharField(_("note"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("suppressed at"), auto_now_add=True)

    class Meta:
        verbose_name = _("suppressed address")
        verbose_name_plural = _("suppressed addresses")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(email=Lower("email")), name="email_suppression_lowercase"
            ),
        ]

    def __str__(self):
        return self.email


class ProviderEvent(models.Model):
    """One event as SendGrid posted it, kept once per sg_event_id (SendGrid repeats)."""

    sg_event_id = models.CharField(max_length=100, unique=True)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("SendGrid event")
        verbose_name_plural = _("SendGrid events")
        indexes = [
            models.Index(
                fields=["received_at"],
                condition=Q(processed_at__isnull=True),
                name="email_provider_event_todo",
            )
        ]

    def __str__(self):
        return self.sg_event_id


@register_setting(icon="mail")
class EmailBrandSettings(BaseGenericSetting):
    shop_name = models.CharField(_("shop name"), max_length=100, default="Returnwise")
    logo_url = models.URLField(_("logo URL"), blank=True)
    colour = models.CharField(
        _("brand colour"),
        max_length=7,
        default="#0f5132",
        help_text=_("A hex colour such as #0f5132, used for buttons and the header."),
    )
    footer_address = models.TextField(
        _("footer address"),
        blank=True,
        help_text=_("The shop's postal address, shown at the bottom of every e-mail."),
    )

    class Meta:
        verbose_name = _("e-mail brand")


class EmailContentBlock(TranslatableMixin, models.Model):
    """Editor-written content an e-mail template can include by its slug."""

    title = models.CharField(_("title"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=100)
    body = StreamField(EmailContentStreamBlock(), verbose_name=_("body"), blank=True)

    class Meta(TranslatableMixin.Meta):
        verbose_name = _("e-mail content block")
        verbose_name_plural = _("e-mail content blocks")
        constraints = [
            models.UniqueConstraint(
                fields=["slug", "locale"], name="email_content_block_slug_per_locale"
            ),
        ]

    def __str__(self):
        return self.title
