"""The history of published return policies in the admin, read-only: which rules were
in force when (what `policy_for` answers from). Pages keep their own revisions."""

from django.utils.translation import gettext_lazy as _
from wagtail.admin.filters import WagtailFilterSet
from wagtail.admin.ui.tables import BooleanColumn, DateColumn
from wagtail.permission_policies import ModelPermissionPolicy
from wagtail.permissions import register_permission_policy
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from cms.models import PolicySnapshot


class ViewOnlyPermissionPolicy(ModelPermissionPolicy):
    """Snapshots are written by publishing only: nobody adds, edits or deletes them."""

    def user_has_permission(self, user, action):
        return action == "view" and super().user_has_permission(user, action)

    def user_has_any_permission(self, user, actions):
        return "view" in actions and self.user_has_permission(user, "view")

    def users_with_any_permission(self, actions):
        return super().users_with_any_permission([a for a in actions if a == "view"])


register_permission_policy(PolicySnapshot, ViewOnlyPermissionPolicy(PolicySnapshot))


class PolicySnapshotFilterSet(WagtailFilterSet):
    class Meta:
        model = PolicySnapshot
        fields = ["locale", "is_default"]


class PolicySnapshotViewSet(SnippetViewSet):
    model = PolicySnapshot
    icon = "history"
    menu_label = _("Policy history")
    add_to_admin_menu = False
    add_to_reference_index = False
    copy_view_enabled = False
    inspect_view_enabled = True
    search_fields = ["title", "summary"]
    filterset_class = PolicySnapshotFilterSet
    list_per_page = 50
    list_display = [
        "title",
        "locale",
        BooleanColumn("is_default", label=_("default policy")),
        DateColumn("valid_from", label=_("valid from")),
        DateColumn("valid_to", label=_("valid until")),
    ]
    inspect_view_fields = [
        "title",
        "summary",
        "locale",
        "url",
        "is_default",
        "rules",
        "valid_from",
        "valid_to",
        "page_id",
        "revision_id",
    ]


register_snippet(PolicySnapshotViewSet)
