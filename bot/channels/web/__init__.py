"""The clinic's dashboard in the browser: server-rendered pages on tornado."""
