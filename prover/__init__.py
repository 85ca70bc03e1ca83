"""Best-first tactic search and the types, protocols and CLI every backend shares."""
