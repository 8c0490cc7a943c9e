"""Interpretation of trained models: in-silico mutagenesis and attributions."""
