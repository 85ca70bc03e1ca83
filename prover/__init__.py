"""Best-first tactic search and the types, protocols and CLI every backend shares."""

from prover.cpu_threads import passive_openmp as _passive_openmp

_passive_openmp()  # before anything imports torch: OpenMP reads its wait policy once, when it loads
