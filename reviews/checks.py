"""Automatic checks on a review's text. They only *flag* a review for a human
moderator; nothing here rejects a review, and the rating is never looked at.

`flags_for` returns codes (stored in Review.flags), in the order of FLAGS:

- profanity: a swear word from the Dutch or English list (whole words, so
  "Scunthorpe" or "klootjes" in "spruitjes" do not count; light leetspeak undone);
- link: a web address (http://, www., or a bare domain like example.com);
- email: an e-mail address, also written as "name (at) example dot com";
- phone: a telephone number (9 to 15 digits, spaces/dashes allowed);
- shouting: mostly capitals;
- duplicate: a near-copy of another review's text (any product, any status);
- short: a text shorter than the minimum length.
"""

from __future__ import annotations

import re
import unicodedata

from django.utils.translation import gettext_lazy as _

FLAGS = {
    "profanity": _("Profanity"),
    "link": _("Contains a link"),
    "email": _("Contains an e-mail address"),
    "phone": _("Contains a phone number"),
    "shouting": _("Shouting (mostly capitals)"),
    "duplicate": _("Copy of another review"),
    "short": _("Very short text"),
}
DEFAULT_MIN_LENGTH = 20

# Whole words; a trailing * also matches longer words starting with the stem (Dutch
# glues swear words onto nouns: "kutproduct", "klotezooi").
PROFANITY = {
    # English
    "fuck*",
    "motherfuck*",
    "shit",
    "shits",
    "shitty",
    "bullshit",
    "bitch*",
    "bastard*",
    "asshole*",
    "arsehole*",
    "cunt*",
    "dick",
    "dickhead*",
    "wanker*",
    "twat*",
    "prick",
    "slut*",
    "whore*",
    "retard",
    "retarded",
    "scumbag*",
    # Dutch
    "kut*",
    "klote*",
    "kanker*",
    "tering*",
    "tyfus*",
    "kolere*",
    "godverdomme",
    "godverdomse",
    "verdomme",
    "klootzak*",
    "lul",
    "lullen",
    "eikel",
    "eikels",
    "hoer",
    "hoeren*",
    "mongool",
    "mongolen",
    "flikker*",
    "debiel",
    "debielen",
    "sukkel",
    "sukkels",
    "zak hooi",
    "teef",
    "slet",
    "sletten",
}
_EXACT = frozenset(
    word for word in PROFANITY if not word.endswith("*") and " " not in word
)
_PHRASES = tuple(word for word in PROFANITY if " " in word)
_STEMS = tuple(word[:-1] for word in PROFANITY if word.endswith("*"))
_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
)

EMAIL = re.compile(
    r"[\w.+-]+\s*(?:@|[\[(]\s*(?:at|apenstaartje)\s*[\])])\s*[\w-]+"
    r"(?:\s*(?:\.|[\[(]\s*(?:dot|punt)\s*[\])]|\s(?:dot|punt)\s)\s*[\w-]+)+",
    re.IGNORECASE,
)
TLDS = (
    "com|net|org|nl|be|de|eu|fr|uk|info|biz|io|co|shop|store|online|site|xyz|me|app|"
    "ly|ru|cn|top|click|link|club|website|tk"
)
LINK = re.compile(
    rf"(?:https?://|www\.)\S+|\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:{TLDS})\b(?:/\S*)?",
    re.IGNORECASE,
)
PHONE = re.compile(r"(?<![\w.,:])(?:\+|00)?\d[\d \-./()]{7,22}\d(?!\w|[,:.]\d)")
PHONE_DIGITS = (9, 15)
SHOUTING_MIN_LETTERS = 12
SHOUTING_SHARE = 0.7
# Near-copy: share of overlapping word trigrams (Jaccard) at or above this.
DUPLICATE_SIMILARITY = 0.8
DUPLICATE_MIN_WORDS = 5
# Texts compared: the product's most recent reviews and the shop's most recent.
DUPLICATE_SAME_PRODUCT = 500
DUPLICATE_SHOP_WIDE = 300


def flags_for(
    *,
    title: str,
    body: str,
    product_id: int | None = None,
    exclude_review_id: int | None = None,
    min_length: int = DEFAULT_MIN_LENGTH,
) -> list[str]:
    """The automatic flags of a review text (empty list: nothing to look at)."""
    text = f"{title}\n{body}"
    found: set[str] = set()
    if has_profanity(text):
        found.add("profanity")
    without_emails, emails = EMAIL.subn(" ", text)
    if emails:
        found.add("email")
    if LINK.search(without_emails):
        found.add("link")
    if has_phone_number(without_emails):
        found.add("phone")
    if is_shouting(text):
        found.add("shouting")
    if len(body.strip()) < min_length:
        found.add("short")
    if is_duplicate(
        title=title,
        body=body,
        product_id=product_id,
        exclude_review_id=exclude_review_id,
    ):
        found.add("duplicate")
    return [code for code in FLAGS if code in found]


def flag_labels(codes: list[str]) -> list[str]:
    """Human names of stored flag codes (unknown codes shown as they are)."""
    return [str(FLAGS.get(code, code)) for code in codes]


def _fold(text: str) -> str:
    """Lower case without accents: "Kùt" and "kut" are the same word."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", _fold(text))


def has_profanity(text: str) -> bool:
    folded = _fold(text)
    candidates = [folded, folded.translate(_LEET)]
    for candidate in candidates:
        words = re.findall(r"[\w*]+", candidate)
        for word in words:
            # "f*ck", "sh*t": a masked letter is still the word.
            plain = word.replace("*", "")
            if plain in _EXACT or plain.startswith(_STEMS):
                return True
            if (
                "*" in word
                and len(plain) >= 2
                and word[0] != "*"
                and _masked_match(word)
            ):
                return True
        joined = " ".join(re.findall(r"\w+", candidate))
        if any(f" {phrase} " in f" {joined} " for phrase in _PHRASES):
            return True
    return False


def _masked_match(word: str) -> bool:
    pattern = re.compile("^" + re.escape(word).replace(r"\*", r"\w") + "$")
    return any(pattern.match(swear) for swear in _EXACT) or any(
        re.match("^" + re.escape(word).replace(r"\*", r"\w"), stem) for stem in _STEMS
    )


def has_phone_number(text: str) -> bool:
    low, high = PHONE_DIGITS
    for match in PHONE.finditer(text):
        digits = sum(char.isdigit() for char in match.group())
        if low <= digits <= high:
            return True
    return False


def is_shouting(text: str) -> bool:
    letters = [char for char in text if char.isalpha()]
    if len(letters) < SHOUTING_MIN_LETTERS:
        return False
    upper = sum(char.isupper() for char in letters)
    return upper / len(letters) >= SHOUTING_SHARE


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = _words(text)
    if len(words) < 3:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}


def similarity(first: str, second: str) -> float:
    """Jaccard similarity of word trigrams (1.0: the same words in the same order)."""
    a, b = _shingles(first), _shingles(second)
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def is_duplicate(
    *,
    title: str,
    body: str,
    product_id: int | None = None,
    exclude_review_id: int | None = None,
) -> bool:
    """True when the body is a near-copy of another review's body (texts too short to
    say are never duplicates: the "short" flag covers them)."""
    from reviews.models import Review

    if len(_words(body)) < DUPLICATE_MIN_WORDS:
        return False
    others = Review.objects.all()
    if exclude_review_id is not None:
        others = others.exclude(pk=exclude_review_id)
    candidates: dict[int, str] = {}
    if product_id is not None:
        same_product = others.filter(product_id=product_id).order_by("-pk")
        candidates.update(
            same_product.values_list("pk", "body")[:DUPLICATE_SAME_PRODUCT]
        )
    recent = others.order_by("-pk").values_list("pk", "body")
    candidates.update(recent[:DUPLICATE_SHOP_WIDE])
    mine = _shingles(body)
    for other in candidates.values():
        theirs = _shingles(other)
        if theirs and len(mine & theirs) / len(mine | theirs) >= DUPLICATE_SIMILARITY:
            return True
    return False
