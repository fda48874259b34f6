"""oairef command line package (argument parsing only; nothing imports it)."""
