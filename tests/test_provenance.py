"""vdlib.provenance: the one helper for run metadata (versions, device, machine, data) and
``python -m vdlib``."""
import subprocess
import sys

import numpy as np
import scipy
import torch

import vdlib
from vdlib import provenance


def test_versions_name_the_libraries_that_decide_the_numbers():
    v = provenance.versions()
    assert v == {"vdlib": vdlib.__version__, "python": sys.version.split()[0], "numpy": np.__version__,
                 "scipy": scipy.__version__, "torch": torch.__version__}


def test_device_info_names_the_cpu_its_cores_and_torch_threads():
    info = provenance.device_info("cpu")
    assert info.startswith("cpu: ") and "cores" in info and f"torch threads {torch.get_num_threads()}" in info


def test_run_metadata_holds_versions_device_machine_and_the_data_source():
    meta = provenance.run_metadata("cpu", data={"source": "bundled"})
    assert set(meta) == {"versions", "device", "machine", "data"} and meta["data"] == {"source": "bundled"}
    assert "data" not in provenance.run_metadata("cpu")


def test_describe_environment_names_versions_and_cuda():
    text = provenance.describe_environment()
    assert torch.__version__ in text and "cuda available:" in text and "profile:" in text and "cores" in text


def test_log_prints_a_timestamped_line_only_when_verbose(capsys):
    provenance.log("hello", verbose=False)
    provenance.log("hello", verbose=True)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith("[") and out[0].endswith("] hello")


def test_python_m_vdlib_prints_the_environment():
    run = subprocess.run([sys.executable, "-m", "vdlib"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "profile:" in run.stdout and "torch" in run.stdout
