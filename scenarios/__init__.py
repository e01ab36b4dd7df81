"""The study's scenarios: each folder holds its data generator, model, exporters and payload builder."""
