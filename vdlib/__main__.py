"""python -m vdlib: print the run profile, device, versions and GPUs."""
from .config import describe_environment

print(describe_environment())
