"""What the two faces share: middleware, body and form reading, CSRF, rendering, HTTP errors and their responses."""
