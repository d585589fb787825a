"""The Django admin's page of signed checkpoints (R-VER-3), with the administrators' button that
writes one now: verify the whole keyed chain, then sign. Imported by admissions/admin.py."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import path
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from admissions.chain import ChainBroken, checkpoint_write
from admissions.models import Checkpoint
from facilities.admin import ReadOnlyAdmin
from facilities.models import Role
from facilities.roles import roles_of


@admin.register(Checkpoint)
class CheckpointAdmin(ReadOnlyAdmin):
    list_display = ("id", "made_at", "made_by", "key_id", "homes")
    readonly_fields = ("id", "made_at", "made_by", "key_id", "signature", "heads")
    change_list_template = "admin/admissions/checkpoint/change_list.html"

    @admin.display(description=_("homes"))
    def homes(self, obj: Checkpoint) -> int:
        return len(obj.heads)

    def get_urls(self):
        write = self.admin_site.admin_view(require_POST(self.write_view))
        return [path("write/", write, name="admissions_checkpoint_write"), *super().get_urls()]

    def write_view(self, request):
        """R-VER-3 'when an administrator asks'."""
        if Role.ADMIN not in roles_of(request.user):
            raise PermissionDenied
        try:
            checkpoint = checkpoint_write(made_by=request.user.get_username())
        except ChainBroken as broken:
            messages.error(
                request,
                gettext("No checkpoint was written: the decision log does not verify at %(where)s.")
                % {"where": broken.broken.describe()},
            )
        else:
            messages.success(
                request,
                gettext("Checkpoint %(id)s written and signed with key %(key)s, covering %(homes)s homes.")
                % {"id": checkpoint.pk, "key": checkpoint.key_id, "homes": len(checkpoint.heads)},
            )
        return redirect("admin:admissions_checkpoint_changelist")
