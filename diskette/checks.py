"""System checks for the DISKETTE_* settings (TODO: in progress)."""
