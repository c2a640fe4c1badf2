"""Local stand-ins for the outside services the pipeline talks to, served for real on loopback in tests."""
