"""The custom user model (its natural key is the username) and a profile whose
primary key is a one-to-one link to it."""

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """``AUTH_USER_MODEL``: guardian, reversion and the catalog point to it."""

    display_name = models.CharField(max_length=80, blank=True)


class Profile(models.Model):
    """One per user, keyed by the user itself (a one-to-one primary key)."""

    user = models.OneToOneField(
        User, primary_key=True, on_delete=models.CASCADE, related_name="profile"
    )
    bio = models.TextField(blank=True)
    favourite_category = models.ForeignKey(
        "catalog.Category", null=True, blank=True, on_delete=models.SET_NULL
    )
    avatar = models.BinaryField(blank=True, default=b"")
    last_seen = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"profile of {self.user_id}"
