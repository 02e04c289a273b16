"""The chain, pure: events in, the seven steps, hops and checks out (imports only tracer.events)."""
