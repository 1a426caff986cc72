"""Platform collectors and importers: each turns a platform's responses into storage records."""
