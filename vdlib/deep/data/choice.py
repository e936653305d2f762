"""Which dataset stands in for the paper's MNIST, decided in one place (:func:`mnist_choice`)."""
from __future__ import annotations

from .bundled import BUNDLED_N_TRAIN
from .locate import available, check_root, system_data_hidden
from .registry import BUNDLED, DEBIAN_PACKAGE, ENV_IGNORE_SYSTEM, REGISTRY, canonical_name

MNIST_FAMILY = ("mnist", "fashion-mnist", BUNDLED)


def mnist_choice(choice: str = "auto", root=None) -> tuple[str, str]:
    """The dataset that stands in for the paper's MNIST, and one sentence saying why.

    ``choice="auto"`` picks, in this order and without downloading anything:

    1. ``"mnist"``: full MNIST, when found in ``root`` / ``$VDLIB_DATA`` / the caches;
    2. ``"fashion-mnist"``: full Fashion-MNIST (60k + 10k real images, same format), e.g. Debian's
       ``dataset-fashion-mnist`` (unless ``$VDLIB_IGNORE_SYSTEM_DATA`` hides it);
    3. ``"mnist-10k"``: the 10,000 real MNIST digits bundled with vdlib (8,000 training images).

    Any other ``choice`` (``"mnist"``, ``"fashion-mnist"``, ``"mnist-10k"`` or an alias) is returned as
    asked, with a sentence that says so. Only file presence is checked: a damaged copy raises when
    :func:`load` reads it, it is never replaced silently. The experiments (``vdlib.experiments``) and
    the chapters of Part IV call this and print the sentence beside the data's ``source``. A ``root`` that
    is not a folder is refused (:func:`~vdlib.deep.data.locate.check_root`), never searched past.
    """
    check_root(root)
    if choice != "auto":
        name = canonical_name(choice)
        if name not in MNIST_FAMILY:
            raise ValueError(f"dataset {choice!r}: a paper-MNIST experiment runs on one of 'auto', "
                             f"{', '.join(repr(n) for n in MNIST_FAMILY)}")
        if name == "mnist":
            return name, "MNIST was asked for (the paper's data)"
        return name, f"{REGISTRY[name].title} was asked for (dataset={choice!r}) instead of the paper's MNIST"
    where = "root= / --data-root, $VDLIB_DATA, ~/.cache/vdlib/data, ~/.keras/datasets"
    if available("mnist", root):
        return "mnist", f"full MNIST was found locally ({where}): the paper's data"
    hidden = f" (system data hidden by ${ENV_IGNORE_SYSTEM})" if system_data_hidden() else ""
    if available("fashion-mnist", root):
        return "fashion-mnist", (f"MNIST was not found locally ({where}); this run uses Fashion-MNIST instead of the "
                                 "paper's MNIST (same format, 60,000 + 10,000 real images)")
    return BUNDLED, (f"neither MNIST nor Fashion-MNIST was found locally ({where}; Debian package {DEBIAN_PACKAGE}"
                     f"{hidden}); this run uses the 10,000 real MNIST digits bundled with vdlib "
                     f"({BUNDLED_N_TRAIN:,} for training) instead of the paper's 60,000")


def mnist_or_fashion(choice: str = "auto", root=None) -> tuple[str, str]:
    """:func:`mnist_choice` with the older contract: the note is empty when nothing was substituted.

    That is when full MNIST was chosen or the dataset was asked for by name; otherwise the note says
    which data replace the paper's MNIST (Fashion-MNIST or the bundled MNIST-10k) and why.
    """
    name, why = mnist_choice(choice, root)
    return name, ("" if choice != "auto" or name == "mnist" else why)
