"""The policy engine: policies/*.yaml checked against the inventory; findings, waivers, scores."""
