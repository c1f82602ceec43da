"""Moving imported items towards reviewers: routing, pre-labels, assignment, dispatch."""
