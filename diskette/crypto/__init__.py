"""Sharing safely: archives encrypted with age and signed with Ed25519 (the
``crypto`` extra), imported only when used."""
