"""The REST layer (API.md). How to add an endpoint: api/README.md."""
