"""Plan review: reading a plan, detecting the failure patterns, goals, the reviewer."""
