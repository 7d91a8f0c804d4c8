"""The local stack (dev-only, never deployed): emulators standing in for AWS and Stripe."""
