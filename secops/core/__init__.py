"""Framework pieces every domain stands on; imports no domain."""
