"""Missions: HQ, embassies, consulates, permanent missions; the unit of entitlement."""
