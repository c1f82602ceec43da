"""Reviewing: what a reviewer does to a review request, and what they see."""
