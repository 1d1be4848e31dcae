"""The fonts of every fundapp PDF, and text split into runs a font can draw.

ReportLab's built-in Helvetica covers Latin-1 alone: "Łódź", "Nguyễn", Chinese
names and emoji printed as black squares. Every PDF now embeds DejaVu Sans
Condensed (Latin, Greek, Cyrillic, Arabic, Hebrew, many symbols; Debian's
``fonts-dejavu-extra``; the condensed cut is about as wide as Helvetica, so the
layouts made for it still fit) and falls back per character to Droid Sans Fallback
(Chinese, Japanese, Korean; Debian's ``fonts-droid-fallback``, a TrueType font,
which ReportLab can embed, unlike the CFF-based Noto CJK). A character neither
font has (most emoji) prints as U+FFFD, the replacement character, drawn in
DejaVu: a visible substitute, never a .notdef box. So does every character
beyond the Basic Multilingual Plane (emoji above all), even the few DejaVu
draws: ReportLab writes their ToUnicode entries wrongly (``<1F600>``), so the
text read back or copied from the PDF would lose them.

Right-to-left text (Arabic, Hebrew) is turned into visual order with
python-bidi, and Arabic letters into their joined forms with arabic-reshaper,
before it is split into runs: each line reads correctly on its own, but a
paragraph of right-to-left text that wraps is reordered as one line first, so
its lines come out in the wrong order. Explicit direction overrides (U+202A-E,
U+2066-9) are dropped first, so a name cannot print reversed to pass for
another.

Fonts are registered once per process, on first use (``register``; the CJK
font, 4 MB, only when a character DejaVu lacks first turns up, so a journal of
Latin names never loads it); a missing font file is a ``FontMissing`` error that
says which package to install.
"""
from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape  # nosec B406 # escapes our output; parses no XML

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfbase.ttfonts import TTFont

REGULAR, BOLD, CJK = "FundSans", "FundSans-Bold", "FundSansCJK"
#: Drawn for a character no font has.
SUBSTITUTE = "\ufffd"
#: Where the fonts are looked for: FUNDAPP_FONT_DIRS (paths separated by ":") first, then Debian's places.
DEFAULT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/droid")
FILES = {REGULAR: ("DejaVuSansCondensed.ttf", "fonts-dejavu-extra"),
         BOLD: ("DejaVuSansCondensed-Bold.ttf", "fonts-dejavu-extra"),
         CJK: ("DroidSansFallbackFull.ttf", "fonts-droid-fallback")}
#: For each font a run may start in, the fonts tried for a character, in order.
CHAINS = {REGULAR: (REGULAR, CJK), BOLD: (BOLD, REGULAR, CJK)}

_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
_RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")
_lock = threading.Lock()
_cmaps: dict[str, frozenset[int]] = {}


class FontMissing(RuntimeError):
    """A font file the PDFs need is not installed."""


def font_dirs() -> list[str]:
    extra = [d for d in os.environ.get("FUNDAPP_FONT_DIRS", "").split(":") if d]
    return extra + list(DEFAULT_DIRS)


def font_path(name: str) -> Path:
    """The file of font ``name``, or FontMissing saying which Debian package holds it."""
    filename, package = FILES[name]
    for folder in font_dirs():
        path = Path(folder) / filename
        if path.is_file():
            return path
    raise FontMissing(f"The PDFs need the font {filename}, which is in none of {', '.join(font_dirs())}. "
                      f"Install it with: apt-get install {package} (or set FUNDAPP_FONT_DIRS to a folder "
                      f"holding {filename}).")


def _load(names: tuple[str, ...]) -> None:
    with _lock:
        missing = [name for name in names if name not in _cmaps]
        fonts = {name: TTFont(name, str(font_path(name))) for name in missing}
        for font in fonts.values():
            pdfmetrics.registerFont(font)
        if REGULAR in fonts:
            pdfmetrics.registerFontFamily(REGULAR, normal=REGULAR, bold=BOLD, italic=REGULAR, boldItalic=BOLD)
        _cmaps.update({name: frozenset(font.face.charToGlyph) for name, font in fonts.items()})


def register() -> None:
    """Register the text fonts with ReportLab, once per process (later calls return at once)."""
    if BOLD not in _cmaps:
        _load((REGULAR, BOLD))


def cmap(font: str) -> frozenset[int]:
    """The code points ``font`` has a glyph for (registering it first if need be)."""
    if font not in _cmaps:
        _load((REGULAR, BOLD, font))
    return _cmaps[font]


def check() -> None:
    """Every font file is there and loads (FontMissing otherwise): for a start-up or deployment check."""
    for name in FILES:
        cmap(name)


def has_glyph(font: str, char: str) -> bool:
    return ord(char) in cmap(font)


def visual(text: str) -> str:
    """``text`` in the order it is drawn: right-to-left runs reversed, Arabic letters joined."""
    text = _BIDI_CONTROLS.sub("", text)
    if not _RTL.search(text):
        return text
    import arabic_reshaper
    from bidi import get_display

    return get_display(arabic_reshaper.reshape(text))


def runs(text: str, font: str = REGULAR) -> list[tuple[str, str]]:
    """``text`` in visual order as (font, piece) runs, each piece drawable in its font.

    Whitespace a font lacks becomes a space; any other character no font has becomes SUBSTITUTE.
    """
    register()
    if text.isascii() and text.isprintable():  # DejaVu has every printable ASCII character
        return [(font, text)] if text else []
    chain = CHAINS[font]
    pieces: list[tuple[str, list[str]]] = []
    for char in visual(text):
        code = ord(char)
        for name in chain if code <= 0xFFFF else ():
            if code in (_cmaps[name] if name in _cmaps else cmap(name)):
                break
        else:
            name, char = font, " " if char.isspace() else SUBSTITUTE
        if pieces and pieces[-1][0] == name:
            pieces[-1][1].append(char)
        else:
            pieces.append((name, [char]))
    return [(name, "".join(chars)) for name, chars in pieces]


def plain(text: str, font: str = REGULAR) -> str | None:
    """``text`` as one string drawable in ``font`` alone (reordered, substituted), or None if it needs others."""
    found = runs(text, font)
    if not found:
        return ""
    return found[0][1] if len(found) == 1 and found[0][0] == font else None


def markup(text: str, font: str = REGULAR) -> str:
    """``text`` as Paragraph markup: escaped, with a <font> tag around each run in another font."""
    return "".join(escape(piece) if name == font else f'<font name="{name}">{escape(piece)}</font>'
                   for name, piece in runs(text, font))


def uses_cjk(text: str) -> bool:
    """Whether ``text`` has a run in the CJK font (a paragraph of it should wrap between any characters)."""
    return not text.isascii() and any(name == CJK for name, _piece in runs(text))


def width(pieces: Sequence[tuple[str, str]], size: float) -> float:
    return sum(stringWidth(piece, name, size) for name, piece in pieces)


def draw(canvas, x: float, y: float, text: str, font: str, size: float, align: str = "left") -> None:
    """Draw one line of ``text`` at (x, y) (``align`` "right": x is its right edge), each run in its font.

    The canvas is left set to ``font`` and ``size``.
    """
    pieces = runs(text, font)
    if len(pieces) == 1 and pieces[0][0] == font:  # the common case: one font, as drawString would
        canvas.setFont(font, size)
        (canvas.drawRightString if align == "right" else canvas.drawString)(x, y, pieces[0][1])
        return
    if align == "right":
        x -= width(pieces, size)
    for name, piece in pieces:
        canvas.setFont(name, size)
        canvas.drawString(x, y, piece)
        x += stringWidth(piece, name, size)
    canvas.setFont(font, size)
