"""Wire protocols spoken by simrig (pure: bytes in, typed messages out)."""
