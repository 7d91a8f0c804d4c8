"""The e-wallet application code (everything but the thin `app.py`)."""
