"""Deterministic content for the Wagtail test site, built with Wagtail's own API.

The site is first flushed: Django then recreates the content types and
permissions in app order, not in the order ``migrate`` created them, so the
source numbers them differently from a freshly migrated target, as a long-lived
site does. What ``migrate`` put in the database (the root and welcome pages, the
default site, the root collection, the Moderators and Editors groups with their
permissions, the default workflow) is kept through the flush, under the same
primary keys, as a long-lived site still has it: a load without ``--flush`` then
replaces those rows of the target instead of colliding with them. The rest is what editors make: pages
with revisions, drafts and a workflow under way, images and documents with real
files, tags, settings, a redirect and a form. Random values (translation keys,
StreamField block ids, password salts) and every timestamp are fixed, so two
seeded sites hold the same rows.
"""

from __future__ import annotations

import io
import shutil
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.core.files.images import ImageFile
from django.core.management import call_command
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from PIL import Image as PillowImage
from PIL import ImageDraw
from wagtail.contrib.forms.models import FormSubmission
from wagtail.contrib.redirects.models import Redirect
from wagtail.documents.models import Document
from wagtail.images.models import Image
from wagtail.models import (
    Collection,
    GroupApprovalTask,
    GroupPagePermission,
    Page,
    Revision,
    Site,
    Workflow,
    WorkflowContentType,
    WorkflowPage,
    WorkflowTask,
)
from wagtail.users.models import UserProfile

from tests.wagtailsite.home.migrated import flushed_keeping_migrated_rows
from tests.wagtailsite.home.models import (
    BlogPage,
    FormField,
    FormPage,
    HomePage,
    SiteSettings,
)
from tests.wagtailsite.home.scope import meaning_models

#: Every seeded timestamp is an offset from this instant.
BASE_TIME = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
BLOG_PAGES = 10
TAGS = ("django", "wagtail", "archive", "python")
#: Namespace of the seeded UUIDs (translation keys, StreamField block ids).
NAMESPACE = uuid.UUID("5f0c9a52-1d3e-4c8b-9a8e-0d6c2b7e4a10")
RENDITION_SPEC = "fill-20x20"
#: Timestamps in a page revision's JSON (the page as it was saved).
REVISION_TIMES = (
    "first_published_at",
    "last_published_at",
    "latest_revision_created_at",
    "locked_at",
)


def fixed_uuid(name: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, name)


#: What Wagtail writes under MEDIA_ROOT: emptied with the database.
MEDIA_DIRECTORIES = ("original_images", "images", "documents")


def seed_site() -> dict[str, int]:
    """Flush the database and the media, then create the site; returns row counts."""
    with flushed_keeping_migrated_rows():
        for name in MEDIA_DIRECTORIES:
            shutil.rmtree(Path(settings.MEDIA_ROOT) / name, ignore_errors=True)
        # Migrate gave the root and welcome pages random translation keys.
        Page.objects.filter(depth=1).update(translation_key=fixed_uuid("root"))
        home = _home_page()
        site = Site.objects.get(is_default_site=True)
        site.site_name = "Wagtail test site"
        site.save()
        users = _users()
        images, _documents = _media(Collection.get_first_root_node(), users["editor"])
        blog = _blog(home, images, users)
        _form(home, users["moderator"])
        site_settings = SiteSettings.for_site(site)
        site_settings.tagline = "Pages, images and documents, dumped and loaded"
        site_settings.contact_email = "contact@example.com"
        site_settings.save()
        Redirect.objects.create(
            old_path=Redirect.normalise_path("/old-blog/"),
            site=site,
            redirect_page=blog,
            is_permanent=True,
        )
        Redirect.objects.create(
            old_path=Redirect.normalise_path("/wagtail"),
            redirect_link="https://wagtail.org/",
            is_permanent=False,
        )
    # Derived rows, which the archive leaves out and the target makes again.
    for image in images:
        image.get_rendition(RENDITION_SPEC)
    call_command("update_index", verbosity=0)
    _pin_timestamps()
    return {model._meta.label: model.objects.count() for model in meaning_models()}


def _home_page() -> HomePage:
    """Wagtail's welcome page, made the site's home page (the same row).

    ``wagtail start`` deletes it and adds a home page instead, under another
    primary key; keeping the row keeps the tree's paths, so that an archive
    loaded into a freshly migrated site replaces the welcome page, not collides
    with it.
    """
    page = Page.objects.get(depth=2)
    home = HomePage(page_ptr=page)
    for field in Page._meta.concrete_fields:
        setattr(home, field.attname, getattr(page, field.attname))
    home._state.adding = False  # its Page row exists: validated and updated as such
    home.content_type = ContentType.objects.get_for_model(HomePage)
    home.title = home.draft_title = "Home"
    home.translation_key = fixed_uuid("home")
    home.body = "<p>Welcome to the <b>diskette</b> test site.</p>"
    home.save()
    home.save_revision().publish()
    return HomePage.objects.get(pk=page.pk)


def _permission(app_label: str, codename: str) -> Permission:
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def _users() -> dict[str, User]:
    bloggers = Group.objects.create(name="Bloggers")
    bloggers.permissions.set(
        [
            _permission("wagtailadmin", "access_admin"),
            _permission("wagtailimages", "choose_image"),
        ]
    )
    users = {}
    for name, group in (
        ("admin", None),
        ("editor", "Editors"),
        ("moderator", "Moderators"),
        ("blogger", "Bloggers"),
    ):
        user = User.objects.create(
            username=name,
            email=f"{name}@example.com",
            first_name=name.title(),
            password=make_password("wagtail-password", salt=f"seed{name}"),
            is_staff=True,
            is_superuser=group is None,
        )
        if group:
            user.groups.add(Group.objects.get(name=group))
        users[name] = user
    profile = UserProfile.get_for_user(users["admin"])
    profile.preferred_language = "en"
    profile.current_time_zone = "Europe/Paris"
    profile.save()
    return users


def _png(index: int) -> bytes:
    """A small real PNG, different for each index."""
    size = (40 + 8 * index, 30 + 4 * index)
    picture = PillowImage.new("RGB", size, (40 * index, 120, 200 - 30 * index))
    ImageDraw.Draw(picture).rectangle((4, 4, 12 + index, 10 + index), fill="white")
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def _media(root: Collection, user: User) -> tuple[list[Image], list[Document]]:
    blog_collection = root.add_child(name="Blog images")
    images = []
    for index in range(3):
        image = Image(
            title=f"Picture {index}",
            file=ImageFile(io.BytesIO(_png(index)), name=f"picture-{index}.png"),
            collection=blog_collection if index else root,
            uploaded_by_user=user,
            description=f"Seeded picture number {index}",
        )
        image._set_image_file_metadata()
        image.save()
        images.append(image)
    images[0].tags.add("photo", "archive")
    documents = []
    for index, (name, content) in enumerate(
        (("notes.txt", b"Plain notes\n"), ("prices.csv", b"item,price\npen,1.50\n"))
    ):
        document = Document(
            title=f"Document {index}",
            file=ContentFile(content, name=name),
            collection=root,
            uploaded_by_user=user,
        )
        document._set_document_file_metadata()
        document.save()
        documents.append(document)
    return images, documents


def _blog(home: HomePage, images: list[Image], users: dict[str, User]) -> HomePage:
    """A blog index with its own workflow and posts with several revisions each."""
    blog = home.add_child(
        instance=HomePage(title="Blog", slug="blog", translation_key=fixed_uuid("blog"))
    )
    blog.save_revision(user=users["editor"]).publish(user=users["moderator"])
    editors, bloggers = (
        Group.objects.get(name="Editors"),
        Group.objects.get(name="Bloggers"),
    )
    for codename in ("add_page", "change_page"):
        GroupPagePermission.objects.create(
            group=bloggers, page=blog, permission=_permission("wagtailcore", codename)
        )
    review = Workflow.objects.create(name="Blog review", active=True)
    task = GroupApprovalTask.objects.create(name="Editors review", active=True)
    task.groups.set([editors])
    WorkflowTask.objects.create(workflow=review, task=task, sort_order=0)
    WorkflowPage.objects.create(page=blog, workflow=review)
    WorkflowContentType.objects.create(
        content_type=ContentType.objects.get_for_model(BlogPage), workflow=review
    )
    for number in range(1, BLOG_PAGES + 1):
        _post(blog, number, images, users, review)
    return blog


def _post(
    blog: HomePage,
    number: int,
    images: list[Image],
    users: dict[str, User],
    review: Workflow,
) -> None:
    image = images[number % len(images)]
    page = blog.add_child(
        instance=BlogPage(
            title=f"Post {number}",
            slug=f"post-{number}",
            date=date(2024, 1, number),
            feed_image=image,
            live=number % 4 != 0,  # every fourth post was never published
            translation_key=fixed_uuid(f"post-{number}"),
            body=_body(number, image),
        )
    )
    page.tags.add(*TAGS[: 1 + number % len(TAGS)])
    page.save()
    first = page.save_revision(user=users["blogger"], log_action=True)
    if number % 4:
        first.publish(user=users["moderator"])
    for step in range(1, 2 + number % 3):  # one to three later revisions
        page = BlogPage.objects.get(pk=page.pk)
        page.title = f"Post {number}, edit {step}"
        page.body = _body(number, images[(number + step) % len(images)], step)
        revision = page.save_revision(user=users["editor"], log_action=True)
        if number % 4 and step == 1 and number % 2:
            revision.publish(user=users["moderator"])  # later edits stay drafts
    if number == 5:
        review.start(BlogPage.objects.get(pk=page.pk), users["blogger"])


def _body(number: int, image: Image, step: int = 0) -> list[dict]:
    """StreamField content: a heading, rich text embedding an image, an image."""
    key = f"post-{number}-{step}"
    return [
        {
            "type": "heading",
            "value": f"Heading {number}.{step}",
            "id": str(fixed_uuid(f"{key}-h")),
        },
        {
            "type": "paragraph",
            "value": (
                f"<p>Paragraph of post {number}.</p>"
                f'<embed alt="picture" embedtype="image" format="left" id="{image.pk}"/>'
            ),
            "id": str(fixed_uuid(f"{key}-p")),
        },
        {"type": "image", "value": image.pk, "id": str(fixed_uuid(f"{key}-i"))},
    ]


def _form(home: HomePage, user: User) -> None:
    form = home.add_child(
        instance=FormPage(
            title="Contact",
            slug="contact",
            translation_key=fixed_uuid("contact"),
            intro="<p>Write to us.</p>",
            thank_you_text="<p>Thank you.</p>",
            to_address="contact@example.com",
            from_address="site@example.com",
            subject="A message from the site",
            form_fields=[
                FormField(
                    sort_order=0,
                    label="Your name",
                    field_type="singleline",
                    required=True,
                ),
                FormField(
                    sort_order=1, label="Message", field_type="multiline", required=True
                ),
            ],
        )
    )
    form.save_revision(user=user).publish(user=user)
    FormSubmission.objects.create(
        page=form, form_data={"your_name": "Ada", "message": "Hello there"}
    )


def _pin_timestamps() -> None:
    """Set every timestamp to a fixed instant, many of them with microseconds.

    Rows are updated one by one with ``update()``: no ``save()``, no signal, no
    ``auto_now``. The instants differ from row to row so that a load that mixed
    rows up, or dropped the microseconds, would show. The page's times that a
    revision's JSON holds are fixed too.
    """
    step = 0
    for model in meaning_models():
        fields = [
            field.attname
            for field in model._meta.local_concrete_fields
            if isinstance(field, models.DateTimeField)
        ]
        if not fields:
            continue
        rows = model._base_manager.order_by("pk").values_list("pk", *fields)
        for pk, *values in rows:
            changes = {}
            for name, value in zip(fields, values, strict=True):
                if value is not None:
                    step += 1
                    changes[name] = BASE_TIME + timedelta(
                        minutes=step, microseconds=(step * 104_729) % 1_000_000
                    )
            if changes:
                model._base_manager.filter(pk=pk).update(**changes)
    encoder = DjangoJSONEncoder()
    for revision in Revision.objects.order_by("pk"):
        content = dict(revision.content)
        for key in REVISION_TIMES:
            if content.get(key):
                step += 1
                content[key] = encoder.default(BASE_TIME + timedelta(minutes=step))
        Revision.objects.filter(pk=revision.pk).update(content=content)
