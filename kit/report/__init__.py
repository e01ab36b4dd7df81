"""Tables and plots from results; works on a copied results folder (imports only kit.results)."""
