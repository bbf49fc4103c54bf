"""Real S3 and SFTP servers for the test suite, started and stopped by the suite.

``s3.py`` runs moto's standalone server, ``sftp.py`` an OpenSSH ``sshd`` on
loopback; ``process.py`` holds what both share (spawning, waiting, stopping, and
the skip-or-fail rule). The fixtures are registered in ``tests/conftest.py``.
"""
