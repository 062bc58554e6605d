"""The three roles of the CRM, as permission groups.

- Viewer: reads everything in the CRM's apps (view_* permissions).
- Marketing: Viewer, plus works on contacts (create, edit, delete, import, export), segments,
  logging and mail merge. Marketing users work in the pages, not in Django admin.
- Admin: every permission of the CRM's apps, and of django-axes (see and clear log-in
  lock-outs); admins are staff and use Django admin for reference data.

`apply_roles` is idempotent and is called from data migrations each time an app adds
models or permissions, so the groups always hold the permissions this module describes.
"""

from __future__ import annotations

VIEWER = "Viewer"
MARKETING = "Marketing"
ADMIN = "Admin"

CRM_APPS = ("crm", "interactions", "segments")
# Apps outside the CRM whose every permission admins hold: axes' failed log-ins and lock-outs.
ADMIN_EXTRA_APPS = ("axes",)

# Models marketing staff create, change and delete in the pages.
MARKETING_MODELS = {
    "crm": {
        "contact",
        "contactaltaddress",
        "contactaltaddressdaterange",
        "contactindustrygroup",
        "contactbusinessrelation",
        "contactmailinggroup",
        "contactjobresponsibility",
    },
    # Logging creates these; marketing cancels, evaluates, comments and deletes canceled ones,
    # and delivers, resends and resumes the letters and e-mails of a logged segment.
    "interactions": {
        "loggedsegment",
        "campaignentry",
        "interactionlogentry",
        "interactioncomment",
        "delivery",
        "deliveryitem",
    },
}
# Whole apps whose every permission marketing has (segments are marketing's worksheet).
MARKETING_APPS = ("segments",)
MARKETING_EXTRA = {("crm", "import_contacts"), ("crm", "export_contacts")}


def role_permissions(permissions) -> dict[str, list]:
    """Split `permissions` (Permission rows with content_type loaded) into the three roles."""
    roles: dict[str, list] = {VIEWER: [], MARKETING: [], ADMIN: []}
    for perm in permissions:
        app = perm.content_type.app_label
        model = perm.content_type.model
        if app in ADMIN_EXTRA_APPS:
            roles[ADMIN].append(perm)
        if app not in CRM_APPS:
            continue
        roles[ADMIN].append(perm)
        action = perm.codename.split("_", 1)[0]
        if action == "view":
            roles[VIEWER].append(perm)
            roles[MARKETING].append(perm)
        elif (
            app in MARKETING_APPS
            or (action in {"add", "change", "delete"} and model in MARKETING_MODELS.get(app, ()))
            or (app, perm.codename) in MARKETING_EXTRA
        ):
            roles[MARKETING].append(perm)
    return roles


def apply_roles(apps) -> None:
    """Create the groups and give each exactly the permissions of its role."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        # create_permissions skips app configs without a models module, which is how
        # migrations' historical app configs look; restore the value afterwards.
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True
        try:
            create_permissions(app_config, apps=apps, verbosity=0)
        finally:
            app_config.models_module = models_module

    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    permissions = permission_model.objects.select_related("content_type")
    for name, perms in role_permissions(permissions).items():
        group, _ = group_model.objects.get_or_create(name=name)
        group.permissions.set(perms)
