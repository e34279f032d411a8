"""Orders service: orders and their lines, priced from the catalog and paid through payments."""
