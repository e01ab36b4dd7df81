"""Load: the open-loop engine (shipped to the client host), its plans, and its rows in the raw schema."""
