"""SpotDraft webhook deliveries as Prefect events: see webhooks/receiver.py."""
