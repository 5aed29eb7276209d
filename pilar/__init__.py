"""Pilar: event-sourced case management for the social pillars of an Indonesian regency."""
