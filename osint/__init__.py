"""osint: archive social-media accounts as evidence and flag coordinated inauthentic behaviour."""

__version__ = "0.1.0"
