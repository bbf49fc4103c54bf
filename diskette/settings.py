"""The default value of every ``DISKETTE_*`` setting.

Nothing needs to import this module: diskette reads its settings through
:func:`diskette.conf.get_settings`, which falls back to these values. It exists
for projects that followed the original diskette's advice and wrote
``from diskette.settings import *`` in their settings; that keeps working.
"""

#: Application definitions: a list of ``[name, options]`` (see the docs).
DISKETTE_APPS = []

#: Model labels ``diskette_apps`` leaves out, besides its built-in list of derived models.
DISKETTE_DERIVED_MODELS = []

#: Media directories to archive (absolute, or relative to the base path).
DISKETTE_STORAGES = []

#: Glob patterns, matched against paths relative to each storage, to skip.
DISKETTE_STORAGES_EXCLUDES = []

#: Directory every storage must sit inside; ``None`` means the working directory.
DISKETTE_STORAGES_BASEPATH = None

#: Directory where archives are written; ``None`` means the working directory.
DISKETTE_DUMP_PATH = None

#: Archive file name; ``{features}``, ``{date}`` (local time) and ``{timestamp}``
#: (UTC, to the microsecond: each dump gets a name of its own) are replaced.
DISKETTE_DUMP_FILENAME = "diskette{features}_{timestamp}.tar.gz"

#: Mode of the written archive (the original's 0o644 let anyone read password hashes).
DISKETTE_DUMP_PERMISSIONS = 0o600

#: Serialization format of fixtures whose definition names no filename.
DISKETTE_DUMP_FORMAT = "json"

#: How archives are compressed: ``"gzip"`` (``.tar.gz``, which the original diskette
#: reads), ``"zstd"`` (``.tar.zst``, needs the ``zstd`` extra) or ``"none"`` (``.tar``).
DISKETTE_DUMP_COMPRESSION = "gzip"

#: Who every dump is encrypted to (the ``crypto`` extra): age public keys
#: (``age1…``), SSH public keys, or files of them; empty: archives are not encrypted.
DISKETTE_ENCRYPT_TO = []

#: Private Ed25519 key file (``ssh-keygen -t ed25519``) every dump is signed with;
#: ``None``: archives are not signed.
DISKETTE_SIGNING_KEY = None

#: Where archives are kept: ``None`` (the directory ``DISKETTE_DUMP_PATH``), an
#: alias of ``STORAGES``, ``{"BACKEND": ..., "OPTIONS": {...}}`` or a backend instance.
DISKETTE_ARCHIVE_STORAGE = None

#: What ``diskette_prune`` (and ``diskette_dump --prune``) keeps when given no rule:
#: ``None``, or a dict of rules such as ``{"keep_last": 7, "newer_than": "30d"}``.
DISKETTE_RETENTION = None

#: Anonymised copies (``diskette_dump --anonymise``): a profile (``"share"`` or
#: ``"none"``) and per-field rules such as ``{"auth.User.email": "email"}``.
DISKETTE_ANONYMISE = {"profile": "share", "rules": {}}

#: The secret that makes anonymised fakes deterministic; ``None`` means the
#: environment variable of the same name, else a random salt per dump.
DISKETTE_ANONYMISE_SALT = None

#: Where storages are restored; ``None`` means the working directory.
DISKETTE_LOAD_STORAGES_PATH = None

#: An archive smaller than this many bytes is refused as broken.
DISKETTE_LOAD_MINIMAL_FILESIZE = 10

#: Largest total of extracted bytes a load accepts (a gzip bomb stops here).
DISKETTE_LOAD_MAX_SIZE = 100 * 1024**3

#: Largest number of members an archive may hold.
DISKETTE_LOAD_MAX_MEMBERS = 1_000_000

#: Largest single object of a fixture, in bytes of its text (memory per object is bounded).
DISKETTE_LOAD_MAX_OBJECT_SIZE = 64 * 1024**2

#: URL schemes ``diskette_load`` may download from.
DISKETTE_DOWNLOAD_ALLOWED_PROTOCOLS = ["http", "https"]

#: Follow HTTP redirects when downloading an archive.
DISKETTE_DOWNLOAD_ALLOW_REDIRECT = False

#: Seconds to wait on the network before a download is given up.
DISKETTE_DOWNLOAD_TIMEOUT = 60

#: Largest archive a download may bring, in bytes.
DISKETTE_DOWNLOAD_MAX_SIZE = 50 * 1024**3

#: Seconds a whole download may take, however the server trickles its bytes.
DISKETTE_DOWNLOAD_DEADLINE = 6 * 3600

#: Identity files (age's ``AGE-SECRET-KEY-1…`` lines, or SSH private keys) that
#: a load or an inspection tries on an encrypted archive.
DISKETTE_IDENTITY_FILES = []

#: Ed25519 public keys (``ssh-ed25519 AAAA…`` lines, or files of them) whose
#: signatures a load trusts; when set, a load from a URL or a destination refuses
#: an archive that none of them signed.
DISKETTE_TRUSTED_KEYS = []
