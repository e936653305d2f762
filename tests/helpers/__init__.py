"""Helper modules shared by several test files (not tests themselves): ``browser`` (build the book, find
Chromium, inspect a built page; tests/test_browser.py) and ``cifar_files`` (small fake CIFAR archives;
tests/test_data.py, tests/test_experiments_spectrum.py). pytest puts ``tests/`` on ``sys.path``, so they
import as ``helpers.browser`` and ``helpers.cifar_files``."""
