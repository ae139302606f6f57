"""The dialogue engine: YAML dialogues compiled into one state machine each."""
