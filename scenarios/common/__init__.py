"""What the four scenarios share: one Keras source model exported to every framework's format."""
