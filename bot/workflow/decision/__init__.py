"""Deciding an item: the sign-off rules, writing the label, and escalations to leads."""
