"""Use cases. Each takes its collaborators (repositories, gateways, clock) as arguments."""
