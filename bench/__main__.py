"""`python -m bench` (make bench): run every benchmark, one line of figures each."""
from __future__ import annotations

from bench import cold_start, package_cold_start, transfer

if __name__ == "__main__":
    cold_start.main()
    transfer.main()
    package_cold_start.main()
