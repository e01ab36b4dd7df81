"""`kit bench`: the bench protocol's rules (protocol), what was asked (settings), a run's manifest
and files (run), one cell measured (cell), one framework x scenario pair (pair), the SLO sweep
(sweep), a server that stopped serving (recovery), and the whole run, new or resumed (runner)."""
