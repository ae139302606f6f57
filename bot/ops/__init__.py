"""What an operator needs: settings for operations, metrics, health, safe logs."""
