"""Results: schema, store, aggregation. Pure and offline: works on a copied results folder."""
