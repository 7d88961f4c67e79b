"""Package data for identity: the list of common passwords refused at sign-up."""
