"""Task kinds as plug-ins: one module per kind (label, rating, preference, correction,
ranking) behind the protocol in base.py; registry.py maps a project's `kind` to its module."""
