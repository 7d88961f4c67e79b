"""Data files shipped with the policy engine (the JSON Schema of a policy file)."""
