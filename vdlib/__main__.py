"""python -m vdlib: print the run profile, device, versions, CPU threads and GPUs (:mod:`vdlib.provenance`)."""
from .provenance import describe_environment

print(describe_environment())
