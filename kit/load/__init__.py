"""Load: the open-loop engine (shipped to the client host) and vegeta, their plans and commands, the
bench protocol (cells, verdicts, the SLO sweep), and their rows in the raw schema."""
