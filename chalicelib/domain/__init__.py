"""Pure domain: money, rules and errors. No I/O, no framework, no AWS."""
