from django import forms
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from shop.models import Language

RATING_CHOICES = [
    (5, _("5 stars: excellent")),
    (4, _("4 stars: good")),
    (3, _("3 stars: average")),
    (2, _("2 stars: poor")),
    (1, _("1 star: bad")),
]


class MultiplePhotoInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultiplePhotoField(forms.FileField):
    """Any number of files; config/photos.py checks each one (by decoding it)."""

    widget = MultiplePhotoInput

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if not data:
            return []
        files = data if isinstance(data, list | tuple) else [data]
        return [super(MultiplePhotoField, self).clean(file, initial) for file in files]


class ReviewForm(forms.Form):
    rating = forms.TypedChoiceField(
        label=_("Your rating"),
        choices=RATING_CHOICES,
        coerce=int,
        widget=forms.RadioSelect,
    )
    title = forms.CharField(label=_("Title"), max_length=120)
    body = forms.CharField(
        label=_("Your review"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    language = forms.ChoiceField(label=_("Language of your review"), choices=[])
    photos = MultiplePhotoField(
        label=_("Photos"),
        help_text=_("JPEG, PNG or WebP, at most 10 MB each."),
        widget=MultiplePhotoInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )
    may_quote = forms.BooleanField(
        label=_("The shop may quote my review in e-mails"), required=False
    )

    def __init__(self, *args, max_photos: int = 5, photos_kept: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_photos, self.photos_kept = max_photos, photos_kept
        self.fields["language"].choices = Language.choices
        self.fields["language"].initial = translation.get_language()[:2]
        self.fields["photos"].help_text = _(
            "Up to {count} photos: JPEG, PNG or WebP, at most 10 MB each."
        ).format(count=max_photos)

    def clean_photos(self):
        photos = self.cleaned_data["photos"]
        if len(photos) + self.photos_kept > self.max_photos:
            raise forms.ValidationError(
                _("Add at most {count} photos.").format(count=self.max_photos)
            )
        return photos


class EditReviewForm(ReviewForm):
    remove_photos = forms.MultipleChoiceField(
        label=_("Remove photos"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=[],
    )

    def __init__(self, *args, review, **kwargs):
        photos = list(review.photos.all())
        super().__init__(*args, photos_kept=len(photos), **kwargs)
        self.fields["remove_photos"].choices = [
            (str(photo.pk), str(position))
            for position, photo in enumerate(photos, start=1)
        ]
        self.photo_choices = photos

    def clean(self):
        cleaned = super().clean()
        removing = cleaned.get("remove_photos") or []
        photos = cleaned.get("photos") or []
        if self.photos_kept - len(removing) + len(photos) > self.max_photos:
            self.add_error(
                "photos", _("Add at most {count} photos.").format(count=self.max_photos)
            )
        return cleaned

    def clean_photos(self):
        # Counted in clean(), once the photos being removed are known.
        return self.cleaned_data["photos"]
