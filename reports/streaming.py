"""A canvas drawn straight into its file: for documents of thousands of pages (the journal).

ReportLab keeps every finished page as an uncompressed string until ``save``,
then formats every object of the document into a list, joins the list into one
bytes and only then writes it: for a journal of 100,000 entries, most of the
memory. ``StreamingCanvas`` compresses each page as it ends and, drawing into a
file on disk, sets the compressed page aside in a temporary file beside it until
the save; the save takes ReportLab's steps in ReportLab's order but writes each
object to the file as soon as it is formatted. The bytes are those ReportLab's
own save writes for the same canvas (tests/reports/test_streaming.py compares
them). The steps are ReportLab 5.1's (pinned in requirements.in):
``PDFDocument.GetPDFData`` and ``PDFDocument.format``, less encryption and
digital signatures, which no fundapp PDF uses (refused rather than written wrongly).
"""
from __future__ import annotations

import os
import tempfile
from typing import IO, Any, BinaryIO

from reportlab import rl_config
from reportlab.pdfbase import pdfdoc
from reportlab.pdfgen.canvas import Canvas

#: Every compressed page's stream dictionary (``PDFStream.format`` copies it before adding the length).
_FLATE = pdfdoc.PDFDictionary({"Filter": pdfdoc.PDFArray([pdfdoc.PDFName("FlateDecode")])})


class _PageContents(pdfdoc.PDFStream):
    """A page's compressed content stream, held in memory or in the canvas's spool file until it is formatted."""

    __Comment__ = "page stream"

    def __init__(self, compressed: bytes, spool: IO[bytes] | None):
        super().__init__(dictionary=_FLATE, content=None if spool else compressed)
        self.spool, self.length = spool, len(compressed)
        if spool is not None:
            spool.seek(0, os.SEEK_END)
            self.offset = spool.tell()
            spool.write(compressed)

    def format(self, document: Any) -> bytes:
        if self.spool is None:
            return super().format(document)
        self.spool.seek(self.offset)
        self.content = self.spool.read(self.length)
        try:
            return super().format(document)
        finally:
            self.content = None


class StreamingCanvas(Canvas):
    """A canvas drawing into ``out``, a binary file object, its pages compressed.

    Drawing into a file on disk (``out.name`` a path), finished pages wait in an
    unnamed temporary file in the same directory; into anything else (a
    ``BytesIO``), in memory.
    """

    def __init__(self, out: BinaryIO, **kwargs: Any):
        super().__init__(out, pageCompression=1, **kwargs)
        name = getattr(out, "name", None)
        self._spool = (tempfile.TemporaryFile(dir=os.path.dirname(os.path.abspath(name)))
                       if isinstance(name, str) and os.path.isfile(name) else None)

    def showPage(self) -> None:
        super().showPage()
        page = self._doc.Pages.pages[-1]
        stream = page.stream.encode("latin-1") if isinstance(page.stream, str) else page.stream
        page.Contents, page.stream = _PageContents(pdfdoc.PDFZCompress.encode(stream), self._spool), None

    def save(self) -> None:
        if len(self._code):
            self.showPage()
        try:
            write_document(self, self._filename)
        finally:
            if self._spool is not None:
                self._spool.close()


def write_document(canvas: Canvas, out: BinaryIO) -> None:
    """Write ``canvas``'s document into ``out``, each object as it is formatted; the canvas is done with."""
    doc = canvas._doc
    if not isinstance(doc.encrypt, pdfdoc.NoEncryption) or getattr(doc, "_digiSigs", None):
        raise ValueError("an encrypted or signed PDF cannot be written object by object: use Canvas.save")
    # PDFDocument.GetPDFData, up to its format()
    for font in doc.delayedFonts:
        font.addObjects(doc)
    doc.info.invariant = doc.invariant
    doc.info.digest(doc.signature)
    doc.Reference(doc.Catalog)
    doc.Reference(doc.info)
    doc.Outlines.prepare(doc, canvas)
    if doc.Outlines.ready < 0:
        doc.Catalog.Outlines = None
    # PDFDocument.format, writing to ``out`` where it collects
    doc.encrypt.prepare(doc)
    catalog, info = doc.Reference(doc.Catalog), doc.Reference(doc.info)
    file = pdfdoc.PDFFile(doc._pdfVersion)  # holds the header; counts each object's offset from there
    for header in file.strings:
        out.write(header)
    file.strings, file.write = [], out.write
    doc.__accum__ = file
    ids = []
    number = 1
    while number in doc.numberToId:  # formatting an object may register new ones: they come after it
        name = doc.numberToId[number]
        obj = doc.idToObject[name]
        formatted = pdfdoc.PDFIndirectObject(name, obj).format(doc)
        if not rl_config.invariant and rl_config.pdfComments:
            file.add(f"% {ascii(name)}: class {obj.__class__.__name__[:50]} \n")
        doc.idToOffset[name] = file.add(formatted)
        ids.append(name)
        number += 1
    del doc.__accum__
    if len(ids) != len(doc.numberToId):
        raise ValueError(f"{len(doc.numberToId)} objects numbered, {len(ids)} in sequence")
    xref = pdfdoc.PDFCrossReferenceTable()
    xref.addsection(0, ids)
    start = file.add(xref.format(doc))
    file.add(pdfdoc.PDFTrailer(startxref=start, Size=len(ids) + 1, Root=catalog, Info=info, ID=doc.ID()).format(doc))
