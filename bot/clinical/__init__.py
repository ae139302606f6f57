"""What the clinical spec decides, as functions over facts."""
