"""``python -m vdlib.book``: check the table of contents (same as ``python -m vdlib.book.toc``)."""
import sys

from .toc import TocError, check_toc, toc_files

try:
    check_toc()
except TocError as e:
    sys.exit(str(e))
print("toc ok:", ", ".join(toc_files()))
