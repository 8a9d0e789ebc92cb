"""Search engines behind kb's engine interface."""
