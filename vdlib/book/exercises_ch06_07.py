"""Answer checks added for chapters 6 and 7: the warm-up concept checks (``chNN-wK``) and the checks of
exercises whose answer is a derived formula or number. Same contract as :mod:`vdlib.book.exercises`
(imported there, so ``check`` and ``exercise_ids()`` know these ids); registered on import.
"""
from __future__ import annotations
