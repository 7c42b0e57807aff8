"""SpotDraft webhook deliveries as Prefect events (issue 12): see webhooks/receiver.py."""
