"""What an item shows, separate from what is asked about it: one module per content type
(a conversation; a prompt with candidate responses). Each holds its import schema, its
Slack blocks, its text for LLM prompts and its export fields."""
