"""Front doors (HTTP, Slack) over the advisor core."""
