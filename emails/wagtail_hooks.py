"""The outbox in the Wagtail admin: an "E-mail" menu with the messages (read-only,
filters, a detail view with the rendered HTML in a sandboxed iframe, the text part and
the events timeline), the suppression list (add and remove), editors' content blocks,
and "Send test e-mail"."""

import django_filters
from django import forms
from django.contrib import messages as flash
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.menu import MenuItem
from wagtail.admin.panels import FieldPanel
from wagtail.admin.ui.tables import Column, DateColumn
from wagtail.permissions import register_permission_policy
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import (
    InspectView,
    SnippetViewSet,
    SnippetViewSetGroup,
)

from emails import rendering, services
from emails.models import (
    EmailContentBlock,
    Message,
    Status,
    Suppression,
)
from shop.wagtail_hooks import RestrictedPermissionPolicy

TEST_TEMPLATES = [("test_message", _("Test message"))]

register_permission_policy(
    Message, RestrictedPermissionPolicy(Message, actions={"view"})
)
register_permission_policy(
    Suppression,
    RestrictedPermissionPolicy(Suppression, actions={"view", "add", "delete"}),
)


class MessageFilterSet(WagtailFilterSet):
    queued_at = django_filters.DateFromToRangeFilter(
        label=_("queued"), widget=DateRangePickerWidget
    )
    sender_label = django_filters.CharFilter(
        label=_("sent by"), lookup_expr="istartswith"
    )

    class Meta:
        model = Message
        fields = ["status", "category", "sender_label", "queued_at"]


class MessageInspectView(InspectView):
    template_name = "emails/admin/message_inspect.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        message = self.object
        if message.template:
            filled = rendering.Rendered(
                subject=message.subject,
                html=message.html,
                text=message.text,
                substitutions=rendering.substitutions_for(message),
            ).filled()
        else:
            # Its shared parts and own values (a campaign's reviews) filled in; the
            # customer's unsubscribe links stay tags: staff must not click them.
            content = rendering.render(message)
            own = {
                tag: value
                for tag, value in content.substitutions.items()
                if tag not in (rendering.UNSUBSCRIBE_TAG, rendering.PREFERENCES_TAG)
            }
            filled = rendering.Rendered(
                subject=content.subject,
                html=content.html,
                text=content.text,
                substitutions=own,
            ).filled()
        context["preview"] = filled
        context["timeline"] = message.events.order_by("occurred_at", "pk")
        return context


class MessageViewSet(SnippetViewSet):
    model = Message
    icon = "mail"
    menu_label = _("Messages")
    inspect_view_enabled = True
    inspect_view_class = MessageInspectView
    add_to_reference_index = False
    copy_view_enabled = False
    list_per_page = 50
    search_fields = ["key", "to_email", "subject"]
    filterset_class = MessageFilterSet
    list_display = [
        "to_email",
        "subject",
        "status",
        "category",
        Column("sender_label", label=_("sent by")),
        DateColumn("queued_at", label=_("queued")),
        DateColumn("sent_at", label=_("sent")),
        DateColumn("delivered_at", label=_("delivered")),
        DateColumn("opened_at", label=_("opened")),
    ]
    inspect_view_fields = [
        "key",
        "to_email",
        "customer",
        "category",
        "sender_label",
        "template",
        "language",
        "status",
        "attempts",
        "provider_message_id",
        "last_error",
        "queued_at",
        "sent_at",
        "delivered_at",
        "opened_at",
        "clicked_at",
        "bounced_at",
    ]

    def get_queryset(self, request):
        return Message.objects.defer("html", "text", "context")


class SuppressionFilterSet(WagtailFilterSet):
    class Meta:
        model = Suppression
        fields = ["reason"]


class SuppressionViewSet(SnippetViewSet):
    model = Suppression
    icon = "cross"
    add_to_reference_index = False
    copy_view_enabled = False
    search_fields = ["email"]
    filterset_class = SuppressionFilterSet
    list_display = ["email", "reason", "note", DateColumn("created_at")]
    panels = [FieldPanel("email"), FieldPanel("reason"), FieldPanel("note")]


class EmailContentBlockViewSet(SnippetViewSet):
    model = EmailContentBlock
    icon = "doc-full"
    search_fields = ["title", "slug"]
    list_display = ["title", "slug", "locale"]
    panels = [FieldPanel("title"), FieldPanel("slug"), FieldPanel("body")]


class EmailViewSetGroup(SnippetViewSetGroup):
    menu_label = _("E-mail")
    menu_icon = "mail"
    menu_order = 350
    items = (MessageViewSet, SuppressionViewSet, EmailContentBlockViewSet)

    def get_submenu_items(self):
        return [
            *super().get_submenu_items(),
            MenuItem(
                _("Send test e-mail"),
                reverse("emails_send_test"),
                icon_name="mail",
                order=900,
            ),
        ]


register_snippet(EmailViewSetGroup)


class SendTestForm(forms.Form):
    to_email = forms.EmailField(label=_("Send to"))
    template = forms.ChoiceField(label=_("Template"), choices=TEST_TEMPLATES)


def send_test_email(request):
    """Wagtail wraps admin URLs in its own login/admin-access check."""
    if not request.user.has_perm("emails.view_message"):
        raise PermissionDenied
    form = SendTestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        message = services.send_test_email(
            to_email=form.cleaned_data["to_email"],
            template=form.cleaned_data["template"],
            requested_by=request.user.get_username(),
        )
        flash.success(
            request,
            _("Test e-mail to %(email)s queued.") % {"email": message.to_email},
        )
        return redirect(
            reverse(Message.snippet_viewset.get_url_name("inspect"), args=[message.pk])
        )
    return TemplateResponse(
        request, "emails/admin/send_test.html", {"form": form, "statuses": Status}
    )


@hooks.register("register_admin_urls")
def register_send_test_url():
    return [path("emails/send-test/", send_test_email, name="emails_send_test")]
